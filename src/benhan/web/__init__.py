"""The server-rendered web app: Starlette routes, Jinja2 templates with HTMX, Vietnamese first (see README.md)."""
