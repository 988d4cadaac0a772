// Package rest builds the REST request of an application from its template
// and sends it, one attempt at a time, classifying how each attempt ended.
//
// A Template turns the URL, headers, parameters and raw body of an
// application file into a delivery.Request for one call, escaping each
// value for the place it lands in (see package render). The request types
// follow Fuse:
//
//	GET, DELETE       parameters in the query string, no body
//	POST              parameters as an application/x-www-form-urlencoded body
//	POST RAW, PUT     parameters in the query string, the body template as
//	                  the body, escaped by the configured Content-Type
//	                  (text/plain; charset=utf-8 when none is configured)
//
// A Sender makes one HTTP attempt of a job and returns a delivery.Outcome.
// 2xx is delivered. 5xx, 408, 425, 429, timeouts and connection errors are
// retryable, and other statuses are permanent. A redirect never counts as
// delivered. 301, 302 and 303 are followed only for GET, and 307 and 308
// for other methods only when the application enables it, with the method
// and body kept. When a redirect leaves the original scheme, host and port,
// the Authorization, Proxy-Authorization and Cookie headers and the
// headers configured from a secret are not sent on.
//
// Choices beyond the request types:
//
//   - A 2xx whose body cannot be read within the timeout is retryable,
//     because the server may not have finished its work. The idempotency
//     key lets it drop the repeat.
//   - A 307 or 308 that is not followed is permanent, like every redirect
//     that is not followed: retrying gets the same redirect.
//   - A failed TLS certificate check is retryable, like other connection
//     errors, because a server's certificate is usually fixed on its side.
//   - The Content-Type and Host headers must be fixed text, because the
//     Content-Type picks the body escaping and the Host the destination.
//
// The package must never let a private application's path, query, header
// values, parameters, body or response reach an error, a log entry or an
// outcome. Only the application, call id, method, scheme://host:port,
// status and timing may appear there. It must never use http.DefaultClient or
// any other shared client, so one slow webservice cannot hold up another.
package rest
