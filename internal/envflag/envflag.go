// Package envflag gives every flag of a flag.FlagSet an environment twin,
// named after the flag: an optional prefix, then the flag's name upper-cased
// with dashes as underscores (-redis-url is REDIS_URL). A flag on the
// command line wins over its variable. The server's settings and the
// standalone emulator's both go through it.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// envName returns the environment variable of the flag named flagName.
func envName(prefix, flagName string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse adds each flag's variable to its usage, parses args into fs, then
// sets each flag the command line left alone from its variable, read
// through getenv (nil: no environment), with the flag's own parser, so a
// variable has the same syntax and errors as its flag. An empty variable
// counts as unset. It returns flag.ErrHelp for -h, as fs.Parse does.
func Parse(fs *flag.FlagSet, args []string, prefix string, getenv func(string) string) error {
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage += " (env " + envName(prefix, f.Name) + ")"
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if getenv == nil {
		return nil
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(prefix, f.Name)
		if v := getenv(env); v != "" && !onCommandLine[f.Name] {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	return errors.Join(errs...)
}
