package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ClusterDepth reads what waits for processors in every nsqd that the nsqlookupds know have
// Topic: each one's topic depth plus the processors' channel's depth and deferred messages, as
// NSQD.Depth counts an embedded one. It is how the depth is known where nsqd is a separate
// program (the Kubernetes and compose sidecars). It reads nsqlookupd's /lookup and nsqd's /stats
// itself: go-nsq has no client for them, and nsq's own (internal/clusterinfo) is internal to its
// module. A reading is reused for a couple of seconds, so frequent scrapes and page loads do
// not load the queue. It is safe for concurrent use.
type ClusterDepth struct {
	lookupd []string // nsqlookupd HTTP addresses
	client  *http.Client
	timeout time.Duration // one reading
	ttl     time.Duration // how long a reading is reused

	mu    sync.Mutex
	at    time.Time
	depth int64
	known bool
}

// NewClusterDepth reads the depth through the nsqlookupds at lookupdHTTPAddrs.
func NewClusterDepth(lookupdHTTPAddrs []string) *ClusterDepth {
	return &ClusterDepth{lookupd: lookupdHTTPAddrs, client: &http.Client{}, timeout: 1500 * time.Millisecond, ttl: 2 * time.Second}
}

// Read returns the depth summed over every nsqd, and false when it cannot be known: no
// nsqlookupd answered, or an nsqd did not (a partial sum would understate the queue).
func (c *ClusterDepth) Read(ctx context.Context) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl {
		return c.depth, c.known
	}
	c.depth, c.known = c.read(ctx)
	c.at = time.Now()
	return c.depth, c.known
}

func (c *ClusterDepth) read(ctx context.Context) (int64, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	nsqds := map[string]bool{}
	answered := false
	for _, l := range c.lookupd {
		var lookup struct {
			Producers []struct {
				BroadcastAddress string `json:"broadcast_address"`
				HTTPPort         int    `json:"http_port"`
			} `json:"producers"`
		}
		body, code, err := c.get(ctx, "http://"+l+"/lookup?topic="+url.QueryEscape(Topic))
		if err != nil || (code != http.StatusOK && code != http.StatusNotFound) {
			continue
		}
		answered = true // 404: the topic does not exist yet, so nothing waits
		if code == http.StatusOK && json.Unmarshal(body, &lookup) == nil {
			for _, pr := range lookup.Producers {
				nsqds[net.JoinHostPort(pr.BroadcastAddress, fmt.Sprint(pr.HTTPPort))] = true
			}
		}
	}
	if !answered {
		return 0, false
	}
	var (
		mu    sync.Mutex
		total int64
		known = true
		wg    sync.WaitGroup
	)
	for addr := range nsqds {
		wg.Go(func() {
			var stats struct {
				Topics []struct {
					Name     string `json:"topic_name"`
					Depth    int64  `json:"depth"`
					Channels []struct {
						Name     string `json:"channel_name"`
						Depth    int64  `json:"depth"`
						Deferred int64  `json:"deferred_count"`
					} `json:"channels"`
				} `json:"topics"`
			}
			body, code, err := c.get(ctx, "http://"+addr+"/stats?format=json&topic="+url.QueryEscape(Topic))
			mu.Lock()
			defer mu.Unlock()
			if err != nil || code != http.StatusOK || json.Unmarshal(body, &stats) != nil {
				known = false
				return
			}
			for _, t := range stats.Topics {
				if t.Name != Topic {
					continue
				}
				total += t.Depth
				for _, ch := range t.Channels {
					if ch.Name == Channel {
						total += ch.Depth + ch.Deferred
					}
				}
			}
		})
	}
	wg.Wait()
	return total, known
}

// maxStatsBody bounds what is read from nsqlookupd or nsqd (the answers for one topic are small).
const maxStatsBody = 4 << 20

func (c *ClusterDepth) get(ctx context.Context, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/vnd.nsq; version=1.0")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsBody))
	if err != nil {
		return nil, 0, err
	}
	return body, resp.StatusCode, nil
}
