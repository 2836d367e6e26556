// Package queue is facecluster's NSQ layer: the in-process nsqd and nsqlookupd daemons of the
// one-machine product (github.com/nsqio/nsq), and a producer and consumer (github.com/nsqio/go-nsq)
// that carry image ids on the "images" topic.
//
// A message is the JSON {"image_id": N}. The database, not the queue, is the source of truth:
// the queue only says "look at image N", so duplicates and replays are harmless.
package queue

import (
	"encoding/json"
	"errors"
	"fmt"
)

const (
	// Topic carries the ids of images waiting to be processed.
	Topic = "images"
	// Channel is the processors' channel: every image goes to exactly one processor.
	Channel = "processors"
)

// Message is the body of a message on Topic.
type Message struct {
	ImageID int64 `json:"image_id"`
}

// Encode returns the message body for an image id.
func Encode(imageID int64) []byte {
	b, _ := json.Marshal(Message{ImageID: imageID})
	return b
}

// Decode parses a message body; anything but a positive image id is an error.
func Decode(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return Message{}, fmt.Errorf("queue: malformed message %q: %w", truncate(body), err)
	}
	if m.ImageID <= 0 {
		return Message{}, fmt.Errorf("queue: message %q has no image id: %w", truncate(body), errors.ErrUnsupported)
	}
	return m, nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
