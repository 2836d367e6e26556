package devcluster

import (
	"net/http"

	"github.com/facecluster/facecluster/internal/httpjson"
)

// ControlHandler is the cluster's control API, for `facecluster dev ctl` and scripts:
//
//	GET  /members                          every member's status (JSON)
//	POST /members/{name}/{stop|kill|start|restart}
//	POST /receivers/roll?binary=PATH       roll the receivers one at a time to another build
func (c *Cluster) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /members", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.WriteIndented(w, http.StatusOK, c.Members())
	})
	mux.HandleFunc("POST /members/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if _, err := c.member(name); err != nil {
			httpjson.WriteIndented(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		var err error
		switch r.PathValue("action") {
		case "stop":
			err = c.Stop(name)
		case "kill":
			err = c.Kill(name)
		case "start":
			err = c.StartMember(r.Context(), name)
		case "restart":
			err = c.Restart(r.Context(), name)
		default:
			httpjson.WriteIndented(w, http.StatusBadRequest, map[string]string{"error": "action must be stop, kill, start or restart"})
			return
		}
		c.reply(w, err, name)
	})
	mux.HandleFunc("POST /receivers/roll", func(w http.ResponseWriter, r *http.Request) {
		binary := r.URL.Query().Get("binary")
		if binary == "" {
			httpjson.WriteIndented(w, http.StatusBadRequest, map[string]string{"error": "binary=PATH is required"})
			return
		}
		c.reply(w, c.RollReceivers(r.Context(), binary), "")
	})
	return mux
}

func (c *Cluster) reply(w http.ResponseWriter, err error, name string) {
	if err != nil {
		httpjson.WriteIndented(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	if name == "" {
		httpjson.WriteIndented(w, http.StatusOK, c.Members("receiver"))
		return
	}
	m, _ := c.member(name)
	httpjson.WriteIndented(w, http.StatusOK, m.status())
}
