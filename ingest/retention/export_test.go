package retention

// Test helpers for the external test package (retention_test).
var (
	TestDB  = testDB
	Record  = record
	Insert  = insert
	TestLog = testLogger
)

// Session is the exported name of the test session type.
type Session = session
