package engine

import gosync "sync"

// hubBuffer is how many events a slow subscriber may fall behind before
// it misses some; `monitor` is for people, not an audit log.
const hubBuffer = 64

// hub fans events out to the `monitor` subscribers.
type hub struct {
	mu   gosync.Mutex
	subs map[chan Event]struct{}
}

func (h *hub) subscribe() (<-chan Event, func()) {
	ch := make(chan Event, hubBuffer)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan Event]struct{}{}
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	var once gosync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, ch)
			h.mu.Unlock()
			close(ch)
		})
	}
}

func (h *hub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}
