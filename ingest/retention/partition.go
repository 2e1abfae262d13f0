package retention

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// partitionKey is one partition of the events or sessions table: a day of
// one retention length.
type partitionKey struct {
	days uint16 // retention_days
	day  uint32 // YYYYMMDD in the server's time zone
}

// parsePartition parses system.parts.partition of a table partitioned by
// (retention_days, toYYYYMMDD(…)), e.g. "(3,20261119)" (18.16) or
// "(3, 20261119)".
func parsePartition(s string) (partitionKey, error) {
	inner, ok := strings.CutPrefix(strings.TrimSpace(s), "(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	a, b, ok2 := strings.Cut(inner, ",")
	if !ok || !ok2 {
		return partitionKey{}, fmt.Errorf("retention: partition %q: want (days,YYYYMMDD)", s)
	}
	days, err := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	if err != nil {
		return partitionKey{}, fmt.Errorf("retention: partition %q: days: %w", s, err)
	}
	day, err := strconv.ParseUint(strings.TrimSpace(b), 10, 32)
	if err != nil {
		return partitionKey{}, fmt.Errorf("retention: partition %q: day: %w", s, err)
	}
	k := partitionKey{days: uint16(days), day: uint32(day)}
	if _, err := k.date(time.UTC); err != nil {
		return partitionKey{}, fmt.Errorf("retention: partition %q: %w", s, err)
	}
	return k, nil
}

// String returns the partition expression of ALTER TABLE … DROP PARTITION.
func (k partitionKey) String() string { return fmt.Sprintf("(%d, %d)", k.days, k.day) }

// date returns the start of the partition's day in loc.
func (k partitionKey) date(loc *time.Location) (time.Time, error) {
	y, m, d := int(k.day/10000), time.Month(k.day/100%100), int(k.day%100)
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if t.Year() != y || t.Month() != m || t.Day() != d || y < 1970 {
		return time.Time{}, fmt.Errorf("%d is not a date", k.day)
	}
	return t, nil
}

// DropTime returns when the data of the day that starts at day (midnight
// in the server's time zone) is dropped by a class keeping it days days:
// the start of the day days+1 days later. Every row is thus kept at least
// days days.
func DropTime(day time.Time, days int) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d+days+1, 0, 0, 0, 0, day.Location())
}

// yyyymmdd returns t's day in loc as a YYYYMMDD number.
func yyyymmdd(t time.Time, loc *time.Location) uint32 {
	y, m, d := t.In(loc).Date()
	return uint32(y*10000 + int(m)*100 + d)
}

// quote returns s as a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
