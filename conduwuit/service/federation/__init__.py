"""Federation: finding other servers, talking to them safely, and their keys."""
