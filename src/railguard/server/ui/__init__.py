"""The dashboard: Jinja2 templates and the project's own CSS/JS (no CDN, no build step)."""
