"""Side effects that leave the request: e-mails and partners' back-channel logouts are queued
in the database, then sent by a worker with retries and backoff."""
