package main

import (
	"encoding/json"
	"fmt"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// videoSet is what the emulator serves, and what the clients ask for.
type videoSet struct {
	emulator []emulator.Video
	nos      []string
}

func makeVideos(n int) videoSet {
	var vs videoSet
	models := []string{"Canon EOS 5D", "GoPro HERO12", "iPhone 15 Pro", "DJI Mavic 3"}
	for i := range n {
		no := fmt.Sprintf("VI7%017d", i)
		data := fmt.Sprintf(`{"video_no":%q,"video_name":"load-clip-%d","duration":%d,"size":%d,"status":"PARSE",`+
			`"create_time":%d,"resolution_label":"1080P","fps":30,"width":1920,"height":1080,`+
			`"datetime_taken":%d,"camera_model":%q,"latitude":%.4f,"longitude":%.4f,"tags":["load","test","clip-%d"]}`,
			no, i, 10+i%600, 1_000_000+int64(i)*7919, 1754037217992+int64(i)*1000, 1729388400000+int64(i)*1000,
			models[i%len(models)], -60+float64(i%120), -170+float64(i%340), i)
		vs.emulator = append(vs.emulator, emulator.Video{UniqueID: "default", Data: json.RawMessage(data)})
		vs.nos = append(vs.nos, no)
	}
	return vs
}
