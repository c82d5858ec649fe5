package serving

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/sagekit/sagekit/sdk/optml"
)

// routes registers every route of the server.
func (s *Server) routes() *mux.Router {
	// Routes match the escaped path, so that a model name's %2F does not
	// split its segment, and a %2E%2E is not cleaned away.
	r := mux.NewRouter().UseEncodedPath()
	r.HandleFunc(optml.RoutePing, s.servePing).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(optml.RouteInvocations, s.serveInvocations).Methods(http.MethodPost)
	r.HandleFunc(optml.RouteExecutionParameters, s.serveExecutionParameters).Methods(http.MethodGet)
	if s.o.multiModel {
		r.HandleFunc(optml.RouteModels, s.serveLoadModel).Methods(http.MethodPost)
		r.HandleFunc(optml.RouteModels, s.serveListModels).Methods(http.MethodGet)
		r.HandleFunc(optml.RouteModels+"/{name}", s.serveGetModel).Methods(http.MethodGet)
		r.HandleFunc(optml.RouteModels+"/{name}", s.serveUnloadModel).Methods(http.MethodDelete)
		r.HandleFunc(optml.RouteModels+"/{name}/invoke", s.serveInvokeModel).Methods(http.MethodPost)
	}
	r.NotFoundHandler = http.HandlerFunc(s.serveNotFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(s.serveMethodNotAllowed)
	return r
}

// ServeHTTP answers the two routes SageMaker calls all the time (POST
// /invocations, GET /ping) without the router, which copies the request
// twice to attach route variables; everything else goes through it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := getRecorder(w)
	route := routeOther
	switch p := r.URL.Path; {
	case p == optml.RouteInvocations && r.Method == http.MethodPost:
		route = routeInvocations
		s.serveInvocations(rw, r)
	case p == optml.RoutePing && r.Method == http.MethodGet:
		route = routePing
		s.servePing(rw, r)
	default:
		route = routeOf(p)
		s.router.ServeHTTP(rw, r)
	}
	s.observe(r, rw, route, start)
	putRecorder(rw)
}
