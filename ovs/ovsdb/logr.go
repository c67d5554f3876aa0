package ovsdb

import (
	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
)

// maxLibraryVerbosity is the highest libovsdb V-level that is logged (at debug level). libovsdb logs reconnects
// at V(3) and dumps every transaction and update at V(4) and above, which is too much even for debugging.
const maxLibraryVerbosity = 3

// logrusSink lets libovsdb, which logs through logr, write to the agent's logrus logger.
// V(0) messages are logged at info level, V(1)..V(3) at debug level; errors are logged as warnings because
// libovsdb reports recoverable conditions (a failed reconnect attempt) as errors.
type logrusSink struct {
	log logrus.FieldLogger
}

func newLogrLogger(log logrus.FieldLogger) logr.Logger {
	return logr.New(logrusSink{log: log.WithField("lib", "libovsdb")})
}

// Init implements logr.LogSink.
func (s logrusSink) Init(logr.RuntimeInfo) {}

// Enabled implements logr.LogSink.
func (s logrusSink) Enabled(level int) bool { return level <= maxLibraryVerbosity }

// Info implements logr.LogSink.
func (s logrusSink) Info(level int, msg string, keysAndValues ...any) {
	entry := s.log.WithFields(fields(keysAndValues))
	if level == 0 {
		entry.Info(msg)
	} else {
		entry.Debug(msg)
	}
}

// Error implements logr.LogSink.
func (s logrusSink) Error(err error, msg string, keysAndValues ...any) {
	s.log.WithFields(fields(keysAndValues)).WithError(err).Warn(msg)
}

// WithValues implements logr.LogSink.
func (s logrusSink) WithValues(keysAndValues ...any) logr.LogSink {
	return logrusSink{log: s.log.WithFields(fields(keysAndValues))}
}

// WithName implements logr.LogSink.
func (s logrusSink) WithName(name string) logr.LogSink {
	return logrusSink{log: s.log.WithField("logger", name)}
}

// fields turns logr's alternating key/value list into logrus fields; a dangling key gets a nil value.
func fields(keysAndValues []any) logrus.Fields {
	f := make(logrus.Fields, len(keysAndValues)/2)
	for i := 0; i < len(keysAndValues); i += 2 {
		key, ok := keysAndValues[i].(string)
		if !ok {
			continue
		}
		var value any
		if i+1 < len(keysAndValues) {
			value = keysAndValues[i+1]
		}
		f[key] = value
	}
	return f
}
