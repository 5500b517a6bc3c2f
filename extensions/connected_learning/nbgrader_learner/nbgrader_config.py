# nbgrader settings of every learner's server (found through JUPYTER_CONFIG_PATH, set by
# the workbook spawner): the site's exchange, one course per group, assignments in
# ~/assignments/<group>/<id>/, private submissions, and the hub user as the student.
import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.Exchange.root = os.environ.get("CLHUB_EXCHANGE", "/var/lib/clhub/exchange")
c.Exchange.path_includes_course = True
c.Exchange.assignment_dir = os.path.join(os.environ.get("HOME", "."), "assignments")
c.ExchangeFactory.submit = "connected_learning.exchange.ClhubExchangeSubmit"
if os.environ.get("JUPYTERHUB_USER"):
    # nbgrader otherwise takes the name of the process's system user: under the demo
    # spawner every account is the same one.
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
