"""nbgrader's exchange, made private: a learner's submission is readable by them alone.

nbgrader's default `ExchangeSubmit` leaves each submission world-readable (mode 0777
folder, 0644 files), hidden only by an unguessable folder name. `ClhubExchangeSubmit`
submits the same way, then closes the submission to its author (folders 0700, files
0600); the classroom service, running as root, collects it. Learners' servers select it
through `nbgrader_learner/nbgrader_config.py` (`ExchangeFactory.submit`).

`ClhubExchangeFetchAssignment` fetches as nbgrader does (JupyterLab's Assignments list),
then starts a newly fetched assignment from the learner's own answers in
`~/workbooks/<id>/` (`own_work`), in the learner's own server, as the learner
(`ExchangeFactory.fetch_assignment`).
"""

from __future__ import annotations

import os

from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
from nbgrader.exchange.default.submit import ExchangeSubmit

from .own_work import start_from_own_work


class ClhubExchangeSubmit(ExchangeSubmit):
    def copy_files(self) -> None:
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        for base, dirs, files in os.walk(dest):
            for name in dirs:
                os.chmod(os.path.join(base, name), 0o700)
            for name in files:
                os.chmod(os.path.join(base, name), 0o600)
        os.chmod(dest, 0o700)


class ClhubExchangeFetchAssignment(ExchangeFetchAssignment):
    def copy_files(self) -> None:
        fresh = not os.path.lexists(self.dest_path)
        super().copy_files()
        if fresh:  # files added to a copy the learner has (replace_missing_files) are left alone
            start_from_own_work(self.dest_path, os.path.expanduser("~"), self.coursedir.assignment_id)
