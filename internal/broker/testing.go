package broker

import (
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/internal/testca"
)

// Secure is a broker started by StartSecureForTest with the client
// settings that reach it.
type Secure struct {
	*Broker
	// CA signed the broker's certificate; CAFiles are its certificate and
	// a client certificate and key it issued, as files.
	CA      *testca.CA
	CAFiles testca.Files
	// TLS and SASL are the kafka.tls and kafka.sasl sections that reach
	// the broker.
	TLS  config.TLS
	SASL config.SASL
}

// StartSecureForTest starts a broker that speaks only TLS (certificate
// from a fresh test CA; with clientCerts it also requires a client
// certificate of that CA) and, when mechanism is not empty, requires
// SASL with user "foureyes" and password "s3cret-kafka". It is closed
// when the test ends.
func StartSecureForTest(tb testing.TB, mechanism string, clientCerts bool) *Secure {
	tb.Helper()
	ca, err := testca.New("foureyes test kafka CA")
	if err != nil {
		tb.Fatal(err)
	}
	files, err := ca.WriteFiles(tb.TempDir(), "kafka")
	if err != nil {
		tb.Fatal(err)
	}
	srvTLS, err := ca.ServerTLS(clientCerts)
	if err != nil {
		tb.Fatal(err)
	}
	opts := []Option{WithTLS(srvTLS)}
	s := &Secure{CA: ca, CAFiles: files, TLS: config.TLS{Enabled: true, CAFile: files.CA}}
	if clientCerts {
		s.TLS.CertFile, s.TLS.KeyFile = files.Cert, files.Key
	}
	if mechanism != "" {
		opts = append(opts, WithSASL(mechanism, "foureyes", "s3cret-kafka"))
		s.SASL = config.SASL{Mechanism: mechanism, Username: "foureyes", Password: "s3cret-kafka"}
	}
	if s.Broker, err = Start("127.0.0.1:0", "", opts...); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}
