package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/devcluster"
)

func newDevCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Developer tools: a local cluster in the production topology",
	}
	cmd.AddCommand(newDevClusterCmd(), newDevCtlCmd())
	return cmd
}

const defaultControlAddr = "127.0.0.1:8079"

func newDevClusterCmd() *cobra.Command {
	var o devcluster.Options
	var control string
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run the production topology as local processes until interrupted",
		Long: `Runs facecluster as it runs on Kubernetes, with processes on loopback: the schema on a MySQL or
MariaDB server, 3 nsqlookupd, an nsqd beside each receiver, 2 receivers behind a round-robin
proxy (--listen), 3 processors, 2 recognizers, the reconciler and the web UI. Members are
controlled with 'facecluster dev ctl' (stop, kill, start, restart, roll the receivers to another
build). See docs/deploy.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.ModelsDir == "" {
				o.ModelsDir = findModelsDir()
			}
			if o.ImageRoot == "" {
				o.ImageRoot = "."
			}
			o.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ctl, err := net.Listen("tcp", control)
			if err != nil {
				return usageError{fmt.Errorf("--control %s: %w", control, err)}
			}
			defer ctl.Close()
			c, err := devcluster.Start(cmd.Context(), o)
			if err != nil {
				return err
			}
			defer c.Close()
			srv := &http.Server{Handler: c.ControlHandler(), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ctl) }()
			defer srv.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "receivers  %s   (round robin over %d)\nweb        %s\ndatabase   %s\ncontrol    facecluster dev ctl --control %s status|stop|kill|start|restart NAME|roll BINARY\n\n",
				c.URL(), len(c.Members("receiver")), c.WebURL(), c.DSN(), ctl.Addr())
			printMembers(out, c.Members())
			fmt.Fprintln(out, "\nCtrl-C stops every member.")
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", filepath.Join("data", "devcluster"), "members' working directories, data and logs")
	f.StringVar(&o.MySQLDSN, "mysql-dsn", "root@tcp(127.0.0.1:3306)/", "MySQL/MariaDB server (with a database name, that database is used)")
	f.StringVar(&o.Database, "database", "facecluster_dev", "database created on the server for the cluster")
	f.BoolVar(&o.FreshDatabase, "fresh", false, "drop the database first")
	f.StringVar(&o.Binary, "binary", "", "facecluster binary the roles run (default this one)")
	f.StringVar(&o.NSQBinDir, "nsq-bin-dir", "", "directory with nsqd and nsqlookupd (default: built from the pinned NSQ v1.3.0 into --dir/bin)")
	f.StringVar(&o.ModelsDir, "models-dir", "", "face-api.js model directory (default $FACECLUSTER_MODELS_DIR or ./models/node_modules/@vladmandic/face-api/model)")
	f.StringVar(&o.ImageRoot, "image-root", "", "image paths under this directory are accepted (default the current directory)")
	f.IntVar(&o.Lookupds, "lookupds", 3, "nsqlookupd instances")
	f.IntVar(&o.Receivers, "receivers", 2, "receivers, each with its own nsqd")
	f.IntVar(&o.Processors, "processors", 3, "processors")
	f.IntVar(&o.Recognizers, "recognizers", 2, "recognizers (each on its own 127.0.0.2x address)")
	f.StringVar(&o.ProxyAddr, "listen", "127.0.0.1:8080", "the receivers' round-robin proxy")
	f.StringVar(&control, "control", defaultControlAddr, "control API for 'facecluster dev ctl'")
	f.StringSliceVar(&o.ExtraArgs, "serve-arg", nil, "extra argument for every role's 'facecluster serve' (repeatable)")
	return cmd
}

func findModelsDir() string {
	if d := os.Getenv("FACECLUSTER_MODELS_DIR"); d != "" {
		return d
	}
	d := filepath.Join("models", "node_modules", "@vladmandic", "face-api", "model")
	if _, err := os.Stat(d); err == nil {
		return d
	}
	return ""
}

func printMembers(w io.Writer, ms []devcluster.MemberStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTATE\tPID\tSTARTS\tHTTP\tTCP/GRPC\tLOG")
	for _, m := range ms {
		other := m.TCPAddr
		if m.GRPCAddr != "" {
			other = m.GRPCAddr
		}
		pid := "-"
		if m.PID != 0 {
			pid = fmt.Sprint(m.PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.Name, m.State, pid, m.Starts, m.HTTPAddr, other, m.Log)
	}
	tw.Flush()
}

func newDevCtlCmd() *cobra.Command {
	var control string
	cmd := &cobra.Command{
		Use:   "ctl status | stop|kill|start|restart MEMBER | roll BINARY",
		Short: "Control a running 'facecluster dev cluster'",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			base := "http://" + control
			var method, path string
			switch {
			case args[0] == "status" && len(args) == 1:
				method, path = http.MethodGet, "/members"
			case args[0] == "roll" && len(args) == 2:
				bin, err := filepath.Abs(args[1])
				if err != nil {
					return usageError{err}
				}
				method, path = http.MethodPost, "/receivers/roll?binary="+url.QueryEscape(bin)
			case len(args) == 2 && (args[0] == "stop" || args[0] == "kill" || args[0] == "start" || args[0] == "restart"):
				method, path = http.MethodPost, "/members/"+url.PathEscape(args[1])+"/"+args[0]
			default:
				return usageError{errors.New("usage: facecluster dev ctl status | stop|kill|start|restart MEMBER | roll BINARY")}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
			if err != nil {
				return usageError{err}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("no dev cluster answers at %s (is 'facecluster dev cluster' running?): %w", control, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				var e struct{ Error string }
				_ = json.Unmarshal(body, &e)
				return fmt.Errorf("%s %s: %s", args[0], args[len(args)-1], e.Error)
			}
			var ms []devcluster.MemberStatus
			if json.Unmarshal(body, &ms) != nil {
				var m devcluster.MemberStatus
				if err := json.Unmarshal(body, &m); err != nil {
					return fmt.Errorf("unexpected answer: %s", body)
				}
				ms = []devcluster.MemberStatus{m}
			}
			printMembers(cmd.OutOrStdout(), ms)
			return nil
		},
	}
	cmd.Flags().StringVar(&control, "control", defaultControlAddr, "the dev cluster's control address")
	return cmd
}
