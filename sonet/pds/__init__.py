"""Personal data server: accounts, signed repositories, blobs, sync and the firehose."""
