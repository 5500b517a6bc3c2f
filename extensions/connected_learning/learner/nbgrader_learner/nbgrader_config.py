# nbgrader settings of every learner's server (found through JUPYTER_CONFIG_PATH, set by
# the workbook spawner): the site's exchange, one course per group, assignments in
# ~/assignments/<group>/<id>/, private submissions, the hub user as the student; in a
# teacher's server, the course folder of the group they teach.
import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (provided by traitlets when it loads this file)
c.Exchange.root = os.environ.get("CLHUB_EXCHANGE", "/var/lib/clhub/exchange")
c.Exchange.path_includes_course = True
c.Exchange.assignment_dir = os.path.join(os.environ.get("HOME", "."), "assignments")
c.ExchangeFactory.submit = "connected_learning.assignments.exchange.ClhubExchangeSubmit"
# A fetched assignment starts from the learner's own answers in ~/workbooks/<id>/.
c.ExchangeFactory.fetch_assignment = "connected_learning.assignments.exchange.ClhubExchangeFetchAssignment"
if os.environ.get("JUPYTERHUB_USER") and not os.environ.get("CLHUB_COURSE_ROOT"):
    # nbgrader otherwise takes the name of the process's system user: under the demo
    # spawner every account is the same one.
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
if os.environ.get("CLHUB_COURSE_ROOT"):
    # A teacher's server: the formgrader grades in the group's course folder.
    c.CourseDirectory.root = os.environ["CLHUB_COURSE_ROOT"]
    c.CourseDirectory.course_id = os.environ.get("CLHUB_COURSE_ID", "")
    # Generating from the formgrader clears answers as the hub does: a blank that raises nothing.
    from connected_learning.widgets.puzzles import CODE_STUB

    c.ClearSolutions.code_stub = {"python": CODE_STUB}
