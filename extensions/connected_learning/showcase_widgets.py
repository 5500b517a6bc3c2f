"""Where notebooks already in learners' homes import the showcase widget from.

Edited copies of `MY-SHOWCASE.ipynb` are never overwritten, and they say
`from connected_learning.showcase_widgets import ProposeBox`: this name stays. New code imports
`connected_learning.showcase.widgets`.
"""

from .showcase.widgets import ProposeBox, proposal_html

__all__ = ["ProposeBox", "proposal_html"]
