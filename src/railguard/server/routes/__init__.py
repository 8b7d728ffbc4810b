"""One router per resource; `railguard.server.app.create_app` mounts them."""
