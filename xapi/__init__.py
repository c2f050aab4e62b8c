"""Framework-free xAPI core: validation, identity, time formats, formatting, multipart, JWS.

Nothing here imports Flask or lms_service; the embedded LRS (``lms_service.lrs``) and the
statement builders use these functions.
"""

from .errors import UnsupportedVersion, XAPIValidationError
from .validation import validate_agent, validate_statement, validate_statements
from .versions import SUPPORTED, negotiate

__all__ = [
    "SUPPORTED",
    "UnsupportedVersion",
    "XAPIValidationError",
    "negotiate",
    "validate_agent",
    "validate_statement",
    "validate_statements",
]
