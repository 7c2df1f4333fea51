package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

const contentTypePDF = "application/pdf"

func (s *Server) getDocument(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "document")
	if err != nil {
		return err
	}
	content, doc, err := s.svc.Documents.Open(r.Context(), id)
	if err != nil {
		return err
	}
	defer content.Close()
	ct := doc.ContentType
	if ct == "" {
		ct = contentTypePDF
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	if doc.Size != nil && *doc.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(*doc.Size, 10))
	}
	h.Set("Content-Disposition", `inline; filename="`+fileKind(doc.Kind)+"-"+id+`.pdf"`)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, content); err != nil {
		// The response has begun; the short body (against Content-Length)
		// tells the client. Log it for the operator.
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "stream document",
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("document_id", id),
			slog.String("err", err.Error()),
		)
	}
	return nil
}

// fileKind returns kind reduced to a-z and _, for a file name.
func fileKind(kind string) string {
	k := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || r == '_' {
			return r
		}
		return -1
	}, strings.ToLower(kind))
	if k == "" {
		return "document"
	}
	return k
}
