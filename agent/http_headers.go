package agent

import (
	"net/http"
)

// secureHeaders sets, on every response of the HTTP API, the UI and the
// docs, X-Content-Type-Options: nosniff (a browser never guesses a type
// from the body), and an explicit Content-Type where the handler set none
// (an empty 404 of the KV store, a redirect): text/plain.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		tw := &typedWriter{ResponseWriter: w}
		next.ServeHTTP(tw, r)
		if !tw.wrote {
			tw.WriteHeader(http.StatusOK) // an empty 200 still says its type
		}
	})
}

// typedWriter sets a Content-Type when the header goes out without one.
type typedWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *typedWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if h := w.Header(); h.Get("Content-Type") == "" {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *typedWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		// As net/http: an unset type is sniffed from the first bytes.
		if h := w.Header(); h.Get("Content-Type") == "" {
			h.Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers (blocking watches, log monitors) flush
// through the wrapper.
func (w *typedWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *typedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
