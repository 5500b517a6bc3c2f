"""Where notebooks already in learners' homes import peer review's widgets from.

Edited copies of workbooks are never overwritten, and they say
`from connected_learning.peer_widgets import ShareBox`: this name stays. New code imports
`connected_learning.peer_review.widgets`.
"""

from .peer_review.widgets import FeedbackInbox, ReviewPanel, ShareBox, feedback_html

__all__ = ["FeedbackInbox", "ReviewPanel", "ShareBox", "feedback_html"]
