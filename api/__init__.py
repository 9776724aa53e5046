"""FastAPI app: REST API, live stream, dashboard and public page."""
