// Package worker serves a model of any language through worker processes,
// the job gunicorn does behind nginx: a Pool starts N copies of a command,
// each serving HTTP on its own unix socket (given in SAGEKIT_WORKER_SOCKET),
// and sends each request to an idle one.
//
// A Pool is a serve.Handler, so package serving fronts it like a Go model.
// A worker counts as ready once its socket answers GET /ping with 200. A
// worker that exits is started again after a back-off; only the request it
// was serving fails (502). A worker still busy when the request's deadline
// passes is killed (the caller gets 504) and started again.
package worker
