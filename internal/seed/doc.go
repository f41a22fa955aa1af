// Package seed works out what up writes into the environment's GitOps
// repository: the files rendered with the environment's keys and
// credentials, the change of the seed step (groundwork's files, the folders
// it seeds once, a flux bootstrap taken over, files handed over with
// --adopt-file), and the check made before any change (conflicts with the
// user's files and objects, what the engine will apply). up commits the
// change; plan shows the check.
package seed
