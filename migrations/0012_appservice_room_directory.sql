-- Rooms application services publish in their networks' room directories
-- (PUT /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}), listed by POST /publicRooms with
-- third_party_instance_id or include_all_networks. Separate from rooms.is_public, the server's own directory.
CREATE TABLE appservice_room_directory (
  appservice_id TEXT NOT NULL,
  network_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  PRIMARY KEY (appservice_id, network_id, room_id)
);
CREATE INDEX appservice_room_directory_room ON appservice_room_directory(room_id);
