// Package bench is the home of sagekit's benchmark harnesses; it holds no
// code itself.
//
//	load         HTTP load generators: closed loop (wrk or Go), open loop at a
//	             constant arrival rate, latency percentiles
//	proc         process groups: start, wait for the first 200 /ping, PSS, kill
//	fixture      the reference stack's files (Flask predictors, nginx.conf),
//	             the iris model and the payloads
//	tree         the iris decision tree in Go, and the no-op and tree handlers
//	benchserver  the Go servers under test: bare net/http, and serving.New
//	             with the no-op or tree handler
//	serving      `go run ./bench/serving`: the serving benchmark
//	             behind `make bench-serving`
package bench
