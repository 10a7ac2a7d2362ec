// Pins the Complement version this project is tested with. There is no Go code
// here: run.sh runs Complement's own test packages out of the module cache
// (go test github.com/matrix-org/complement/tests/...).
module github.com/conduwuit-python/complement-runner

go 1.25.0

require github.com/matrix-org/complement v0.0.0-20260701165844-50044edb68c3
