// Package auth issues and checks API tokens and the roles they carry.
//
// A token is "insure_" followed by 32 random bytes in unpadded base64url.
// The raw token is shown once, when it is created; the database keeps only
// its SHA-256, so a copy of the database does not let anyone call the API.
// A request presents the raw token; Store.Authenticate hashes it, looks the
// hash up and returns the Principal the request acts as. Events record
// Principal.Actor ("token:<name>") as their actor.
//
// Tokens are revoked, never deleted, so the history of who acted with which
// token stays readable. A name belongs to at most one token that is not
// revoked.
//
// Store.Seed installs the token an operator gives in INSURE_ADMIN_TOKEN, so
// a fresh installation can be administered before any token was created.
package auth
