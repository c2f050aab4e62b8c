"""Views of the LRS: the xAPI resources (api) and the credentials admin page (admin)."""
