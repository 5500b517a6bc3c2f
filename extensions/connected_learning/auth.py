"""Log-in for Connected Learning Hub: NativeAuthenticator with safe user names.

Accounts are created by `clhub` and by class-list imports, with bcrypt passwords in the
hub database; failed log-ins lock an account for a while (NativeAuthenticator's
`allowed_failed_logins`). User names must be safe as system user and folder names.
"""

from __future__ import annotations

from nativeauthenticator import NativeAuthenticator

from .errors import ClhubError
from .settings import validate_username


class ClhubAuthenticator(NativeAuthenticator):
    def validate_username(self, username: str) -> bool:
        try:
            validate_username(username)
        except ClhubError:
            return False
        return bool(super().validate_username(username))
