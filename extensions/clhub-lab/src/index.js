// Connected Learning Hub's JupyterLab plug-in.
//
// On a shared library computer a learner logs out and walks away. JupyterLab's own
// "Log Out" (from @jupyterlab/hub-extension) leaves the page at once, so changes made
// since the last autosave were lost, or a "leave this page?" question stopped the log-out.
// This plug-in saves every open document first, then lets the log-out go ahead.

const LOGOUT = 'hub:logout';
const SAVE_ALL = 'docmanager:save-all';

const plugin = {
  id: '@clhub/lab:save-before-logout',
  description: 'Save every open document before logging out of the hub.',
  autoStart: true,
  activate: app => {
    const commands = app.commands;
    const execute = commands.execute.bind(commands);
    // CommandRegistry has no hook to run before another plug-in's command, so the
    // registry's execute is wrapped for this one command id.
    commands.execute = async (id, args) => {
      if (id === LOGOUT && commands.hasCommand(SAVE_ALL)) {
        try {
          await execute(SAVE_ALL);
        } catch (error) {
          console.warn('Saving before log-out failed', error);
        }
      }
      return execute(id, args);
    };
  }
};

module.exports = [plugin];
