"""Administration use-cases (issue 4): users and their roles, the organisation tree, OAuth2 clients, and the
audit reports. The CLI (``benhan.cli_access``) and the web screens (``benhan.web.routes.admin*``,
``benhan.web.routes.audit``) call the same functions here. See README.md."""
