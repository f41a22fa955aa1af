// Package custody checks that an environment's Git repository and its key
// store agree: that a rebuild from them would decrypt what Git holds.
//
// SOPS: the age recipients of the environment's .sops.yaml must include
// the public key of the age key in the key store, and every SOPS file under
// the environment's folder must actually decrypt with that key (the sops
// library decrypts it and checks its MAC; the plaintext is cleared at
// once). Sealed Secrets: every SealedSecret under the folder must unseal
// with one of the key store's sealing keys (the sealed-secrets library),
// and a sealing certificate kept in Git (a .pem or .crt file holding a
// CERTIFICATE, as kubeseal users commit for offline sealing; groundwork
// itself keeps none there) must be the certificate of a stored key.
// External Secrets: groundwork keeps no key, and Git holds no secret
// value, so there is nothing to compare: the check is skipped, saying so.
//
// The API:
//
//	k, err := custody.Load(ctx, env, environ)           // the key store's keys, creating nothing
//	rep, err := custody.Check(ctx, env, files, k)       // files: the repository under the environment's folder
//	rep, err := custody.CheckEnvironment(ctx, env, environ) // both, reading the repository's branch head
//
// A mismatch is a *MismatchError naming each file and the recipient (or
// sealing key) it is encrypted for, the key store and its key, and how to
// fix it; the *Report says what was compared either way. up runs the check
// at the end of its seed step, rebuild before it touches anything, status
// shows it, and drill reports it as its keys layer.
package custody
