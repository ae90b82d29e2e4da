package bridge

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/rs/zerolog"
	"go.mau.fi/util/exhttp"
	"maunium.net/go/mautrix"
)

const transactionPath = "/_matrix/app/v1/transactions/"

// transactionGuard sits in front of mautrix's transaction handler. It caps
// the body, and it remembers accepted transaction ids in the database:
// mautrix keeps them only in memory (and only the latest), so a homeserver
// that re-PUTs a transaction after a restart or a timeout would have its
// commands run twice. Events inside are deduplicated again by event id.
func (br *Bridge) transactionGuard(next http.Handler) http.Handler {
	maxBytes := br.Config.AppService.Limits.MaxTransactionBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		txnID, isTxn := strings.CutPrefix(r.URL.Path, transactionPath)
		if r.Method != http.MethodPut || !isTxn || txnID == "" || strings.Contains(txnID, "/") || !br.validHSToken(r) {
			// mautrix answers everything else, including bad tokens.
			next.ServeHTTP(w, r)
			return
		}
		log := br.Log.With().Str("component", "appservice").Str("transaction_id", txnID).Logger()
		if r.ContentLength > maxBytes {
			log.Warn().Int64("content_length", r.ContentLength).Msg("Refusing oversized transaction")
			mautrix.MTooLarge.WithMessage("Transaction is too large").Write(w)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				log.Warn().Msg("Refusing oversized transaction")
				mautrix.MTooLarge.WithMessage("Transaction is too large").Write(w)
			} else {
				mautrix.MNotJSON.WithMessage("Failed to read request body").Write(w)
			}
			return
		}
		ctx := log.WithContext(r.Context())
		seen, err := br.DB.Processed.TransactionSeen(ctx, txnID)
		if err != nil {
			// The homeserver retries a transaction that was not answered 200.
			log.Err(err).Msg("Failed to look up transaction")
			mautrix.MUnknown.WithMessage("Database unavailable").Write(w)
			return
		}
		if seen {
			log.Debug().Msg("Ignoring redelivered transaction")
			exhttp.WriteEmptyJSONResponse(w, http.StatusOK)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		// Recorded only once accepted: if the bridge dies before mautrix has
		// taken the events, the homeserver's retry must not be ignored.
		if rec.status == http.StatusOK {
			if err = br.DB.Processed.RecordTransaction(ctx, txnID); err != nil {
				zerolog.Ctx(ctx).Warn().Err(err).Msg("Failed to record transaction id")
			}
		}
	})
}

func (br *Bridge) validHSToken(r *http.Request) bool {
	// The header only, like mautrix: anything else is mautrix's to refuse.
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(br.Config.AppService.HSToken)) == 1
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
