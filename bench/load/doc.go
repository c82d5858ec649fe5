// Package load generates HTTP/1.1 load on loopback and summarises latency.
//
// Its client writes prebuilt requests on keep-alive connections and reads
// responses with net/http's parser, so it costs far less per request than
// http.Client. OpenLoop sends at a constant arrival rate from a bounded pool
// of connections and measures each request from its scheduled send time, so
// a server that falls behind shows its queueing in the percentiles instead
// of slowing the generator down (coordinated omission). ClosedLoop keeps N
// requests in flight; Wrk does the same with wrk, which is cheaper still.
package load
