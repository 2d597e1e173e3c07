"""Network inputs shared by ``dicomweb`` and ``listen``: HTTP client and the listener's study store."""
