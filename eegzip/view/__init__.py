"""``eegzip view``: a local web page that pages through one recording, decoding only the window
on screen (see ``server``)."""

from eegzip.view.server import ViewerServer, make_server

__all__ = ["ViewerServer", "make_server"]
