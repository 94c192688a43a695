"""Who may do what, and the record of what was done (issue 4).

Pure policy and identity logic: roles, the organisation tree, SMART scopes, the access decision, Consent
and break-the-glass, AuditEvent content.  The repository calls it through the ``AccessPolicy`` protocol
(``benhan.fhir.storage.protocol``); SQL lives in ``benhan.fhir.storage.pg`` (access_sql, audit, identity).
"""

from benhan.access.config import PolicyConfig, default_config, load_config
from benhan.access.control import AccessControl
from benhan.access.roles import Grant, Role, active_roles

__all__ = ["AccessControl", "Grant", "PolicyConfig", "Role", "active_roles", "default_config", "load_config"]
