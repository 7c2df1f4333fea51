package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"insure/internal/config"
)

func newConfigCmd(e env, g *globals) *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration (secrets redacted), or with --markdown the table of every variable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if markdown {
				fmt.Fprint(e.stdout, VarsMarkdown())
				return nil
			}
			cfg, err := loadConfig(e, g)
			if err != nil {
				return err
			}
			red := cfg.Redacted()
			keys := make([]string, 0, len(red))
			for k := range red {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(e.stdout, "%s=%s\n", k, red[k])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the table of every environment variable as Markdown")
	return cmd
}

// VarsMarkdown is the configuration table of the README.
func VarsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n|---|---|---|\n")
	for _, v := range config.Vars() {
		def := v.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", v.Name, strings.ReplaceAll(def, "|", "\\|"), strings.ReplaceAll(v.Description, "|", "\\|"))
	}
	return b.String()
}
