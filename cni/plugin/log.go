package plugin

import (
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/cni/config"
)

// logger returns a logger for one command, writing to the config's logFile or else to
// p.Stderr (never stdout, which carries the CNI result), and a func that closes the file.
// A logFile that cannot be opened falls back to stderr: logging never fails a CNI call.
func (p *Plugin) logger(conf *config.NetConf, command string, env *config.Env) (*logrus.Entry, func()) {
	log := logrus.New()
	log.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	level, err := logrus.ParseLevel(conf.LogLevel)
	if err != nil {
		level = logrus.WarnLevel // config.Parse has validated the level; this is only a guard
	}
	log.SetLevel(level)

	log.SetOutput(p.Stderr)
	closeLog := func() {}
	if conf.LogFile != "" {
		f, err := openLogFile(conf.LogFile)
		if err != nil {
			log.WithError(err).Warn("cannot open logFile; logging to stderr")
		} else {
			log.SetOutput(f)
			closeLog = func() { _ = f.Close() }
		}
	}

	entry := log.WithFields(logrus.Fields{"cmd": command, "network": conf.Name})
	if env != nil {
		entry = entry.WithFields(logrus.Fields{"containerID": env.ContainerID, "ifName": env.IfName})
		if env.PodName != "" {
			entry = entry.WithField("pod", env.PodNamespace+"/"+env.PodName)
		}
	}
	return entry, closeLog
}

func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}
