"""Notifications: official notices partners publish (AT/MP rate decisions…), who sees them,
« Vos notifications », and the e-mails (one per notice, or the weekly digest)."""
