"""The login widget: ``widget.js`` for partners' pages, the framed sign-in pages it shows,
and their answer by ``response_mode=web_message`` (docs/architecture.md §4, access mode 2)."""
