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

// BeforeDrop makes j call f with the table's name right before each DROP
// PARTITION of a main or held table.
func BeforeDrop(j *Job, f func(table string)) { j.beforeDrop = f }

// AfterCopy makes j call f with the table's name after a partition's
// held rows were copied, before the re-check for sessions held since.
func AfterCopy(j *Job, f func(table string)) { j.afterCopy = f }
