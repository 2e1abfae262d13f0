package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/config"
)

// ErrRefused is wrapped by ExplainKafka and ExplainClickHouse when the
// server refused who we are (password, certificate, grant) or we refused
// the server (certificate): a setting is wrong, and retrying will not
// help until it is fixed.
var ErrRefused = errors.New("refused")

// ClickHouse error codes that mean the credentials or grants are wrong.
// 18.16 reports unknown user and wrong password apart; current releases
// report both as AUTHENTICATION_FAILED, and missing grants as ACCESS_DENIED.
const (
	codeReadonly             = 164
	codeUnknownUser          = 192
	codeWrongPassword        = 193
	codeRequiredPassword     = 194
	codeIPAddressNotAllowed  = 195
	codeDatabaseAccessDenied = 291
	codeAccessDenied         = 497
	codeAuthenticationFailed = 516
)

// refused wraps err with ErrRefused and the fix.
type refused struct {
	err error
	fix string
}

func (r *refused) Error() string { return r.err.Error() + "; " + r.fix }

// Unwrap returns the error and ErrRefused.
func (r *refused) Unwrap() []error { return []error{r.err, ErrRefused} }

// ExplainKafka returns err with the setting to fix appended when a broker
// refused the SASL credentials or mechanism, or TLS failed; other errors
// (an unreachable broker) are returned as they are.
func ExplainKafka(err error) error {
	if err == nil || errors.Is(err, ErrRefused) {
		return err
	}
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return &refused{err, "check kafka.sasl.username and kafka.sasl.password_file (and kafka.sasl.mechanism: the user may exist only for another SCRAM variant)"}
	case errors.Is(err, kafka.UnsupportedSASLMechanism), errors.Is(err, kafka.IllegalSASLState):
		return &refused{err, "check kafka.sasl.mechanism: the brokers do not accept it"}
	}
	if fix := tlsFix(err, "kafka.tls", "kafka.brokers"); fix != "" {
		return &refused{err, fix}
	}
	return err
}

// ExplainClickHouse returns err with the setting to fix appended when the
// server of ch (as returned by config.ClickHouse.As) refused the user,
// the password or a grant, or TLS failed; other errors are returned as
// they are.
func ExplainClickHouse(err error, ch config.ClickHouse) error {
	if err == nil || errors.Is(err, ErrRefused) {
		return err
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeAuthenticationFailed:
			return &refused{err, fmt.Sprintf("check %s and its password (user %q)", ch.UserKey(), ch.Username)}
		case codeIPAddressNotAllowed:
			return &refused{err, fmt.Sprintf("user %q may not connect from this address; allow it in the server's users.xml (<networks>)", ch.Username)}
		case codeReadonly, codeDatabaseAccessDenied, codeAccessDenied:
			return &refused{err, fmt.Sprintf("user %q (%s) lacks the grant; see docs/operations.md, ClickHouse users", ch.Username, ch.UserKey())}
		}
	}
	if fix := tlsFix(err, "clickhouse.tls", "clickhouse.addr"); fix != "" {
		return &refused{err, fix}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// ClickHouse 18.16 refuses a database the user may not use by
		// closing the connection in the handshake, without a message; a
		// TLS port read as plaintext looks the same.
		return &refused{err, fmt.Sprintf("the server hung up in the handshake: user %q (%s) may lack the grant on database %q (see docs/operations.md, ClickHouse users), or the port wants TLS (clickhouse.tls.enabled)", ch.Username, ch.UserKey(), ch.Database)}
	}
	return err
}

// tlsFix names the setting behind a TLS failure, or "".
func tlsFix(err error, key, addrKey string) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var header tls.RecordHeaderError
	var op *net.OpError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown):
		return "check " + key + ".ca_file: it must hold the CA that signed the server's certificate"
	case errors.As(err, &host):
		return "check " + key + ".server_name or " + addrKey + ": the server's certificate is for another name"
	case errors.As(err, &invalid):
		return "the server's certificate is not valid (expired, or not for servers); renew it, or check " + key + ".ca_file"
	case errors.As(err, &header):
		return "the server does not speak TLS on this port; check " + key + ".enabled and " + addrKey
	case errors.As(err, &op) && op.Op == "remote error": // a TLS alert from the server
		return "the server refused the TLS handshake (a client certificate it does not accept?); check " + key + ".cert_file and " + key + ".key_file"
	case errors.As(err, &verify):
		return "the server's certificate did not verify; check " + key + ".ca_file"
	}
	return ""
}
