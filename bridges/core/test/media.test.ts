import { describe, expect, it } from "vitest";
import { mediaContent, mediaMsgtype } from "../matrix/media";

describe("core: remote files as Matrix media events", () => {
  it("picks the msgtype from the MIME type", () => {
    expect(["image/png", "video/mp4", "audio/ogg", "text/plain", undefined].map(mediaMsgtype)).toEqual(["m.image", "m.video", "m.audio", "m.file", "m.file"]);
  });

  it("carries filename, mxc, size, mimetype and dimensions only when given", () => {
    expect(mediaContent({ url: "https://x/a.png", filename: "a.png", size: 9, width: 2, height: 3 }, "mxc://hs/abc", 10, "image/png")).toEqual({
      msgtype: "m.image",
      body: "a.png",
      filename: "a.png",
      url: "mxc://hs/abc",
      info: { mimetype: "image/png", size: 10, w: 2, h: 3 },
    });
    expect(mediaContent({ url: "https://x/b", filename: "b", size: 1 }, "mxc://hs/b", 1, undefined)).toEqual({
      msgtype: "m.file",
      body: "b",
      filename: "b",
      url: "mxc://hs/b",
      info: { size: 1 },
    });
  });
});
