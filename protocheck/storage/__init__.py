"""Everything kept between runs: the file index, the check/protocol/report caches, sealing of cached blobs."""
