// A deterministic in-process model of one Genesys Cloud org for outpost-sim's genesys mode
// (decision 038), written from shared/reference/platform-apis.md §1 with the behaviours of
// the Python fake (tests/adapters/genesys/fake_genesys_model.py) that the adapter's core
// meets: presence definitions (System and User), users' presence and routing status,
// wrap-up codes, conversations with participants and communications (the conversation API
// and the analytics query shapes), wrap-up with its refusals, email drafts and sends,
// voicemail with read/delete, queues, new callbacks and emails (decision 044), email and
// message sends with the reads a retry looks with (decision 055), notification channels with
// subscriptions and a socket per channel (heartbeats, pong, socket_closing, expiry). Ids, times and
// answers depend only on the calls made: no clock, no randomness (the simulation draws). Thread
// rules: one object per simulation, used by its single thread.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace outpost::sim {

struct ModelAnswer {
  long status = 0;
  std::string body;
};

// What the checker compares with the server's mirror.
struct ModelConversation {
  std::string id;
  std::string user;
  bool ended = false;
  std::string wrapup_code;  // "" until submitted
};
struct ModelVoicemail {
  std::string id;
  std::string user;
  bool read = false;
  bool deleted = false;
};

class GenesysModel {
 public:
  GenesysModel(std::vector<std::string> users, int64_t now_ms);

  // One REST call: `target` is a path with an optional query. `sent_ms`: when the adapter
  // sent it (-1: now; a request may land long after), which dates a draft PUT by the read
  // its text was based on (overwritten_unseen).
  ModelAnswer handle(const std::string& method, const std::string& target, const std::string& body,
                     int64_t now_ms, int64_t sent_ms = -1);

  // The socket of a channel (connectUri "sim://channels/<id>") in the adapter's slot `slot`
  // (one per notification channel it holds): false when the channel is unknown or expired.
  // While open, notifications and heartbeats queue for it.
  bool open_socket(const std::string& uri, int64_t now_ms, size_t slot = 0);
  void close_socket(size_t slot = 0);
  // A text the adapter sends on the socket (ping: a pong follows).
  void socket_send(const std::string& text, size_t slot = 0);
  // Heartbeats every heartbeat_ms and the channels' expiry (socket_closing, then closed).
  void tick(int64_t now_ms);
  // Messages for the slot's socket, in order; `closed` set when the platform closed it.
  std::vector<std::string> take_socket_messages(bool* closed, size_t slot = 0);
  bool socket_open(size_t slot = 0) const;
  // The channel's life (tests shrink it); expires every open channel at `now_ms`.
  void set_channel_ttl_ms(int64_t ttl) { channel_ttl_ms_ = ttl; }
  void set_heartbeat_ms(int64_t ms) { heartbeat_ms_ = ms; }
  void expire_channels(int64_t now_ms);

  // The platform's own activity.
  std::string route(const std::string& user, const std::string& media, int64_t now_ms);
  bool disconnect_one(const std::string& user, size_t pick, int64_t now_ms);
  bool disconnect(const std::string& conversation_id, int64_t now_ms);
  std::string leave_voicemail(const std::string& user, int64_t now_ms);
  void supervisor_presence(const std::string& user, size_t pick, int64_t now_ms);
  // False when the definition is unknown or deactivated.
  bool supervisor_sets(const std::string& user, const std::string& definition, int64_t now_ms);

  // genesys_model_web.cpp: the Genesys web interface (guide 2.1.4.3, decision 057). The agent
  // inserts `word` into one of their email conversations' reply drafts (picked by `pick`);
  // the conversation is notified. Returns its id, "" when the agent has no draft.
  std::string web_edit_draft(const std::string& user, size_t pick, const std::string& word,
                             int64_t now_ms);
  // The website closes: the platform sets the agent Offline.
  void web_logoff(const std::string& user, int64_t now_ms);
  // The agent deletes one of their voicemails (picked by `pick`) on the web: the delete
  // notification as for a REST DELETE (decision 063). "" when they have none.
  std::string web_delete_voicemail(const std::string& user, size_t pick, int64_t now_ms);
  // An email conversation's reply draft text (textBody), nullptr when it has none; whether
  // a reply was sent in it.
  std::optional<std::string> draft_text(const std::string& conversation) const;
  bool replied(const std::string& conversation) const { return replied_.count(conversation) > 0; }
  // Web words a PUT wrote over that the adapter could not have seen (the platform takes no
  // precondition on a draft; the guide's 2.1.4.3 warns of it), so they are lost by the
  // platform, not by the adapter (decision 062). The PUT is dated by its request's send
  // time, not by its landing: honest when its request went out within one round trip
  // (set_round_trip_ms) after a read of that draft reached the platform, that read after
  // every PUT landed before the send (read, then write at once). It then exempts the words
  // typed from that read on, even those typed while a late request was on its way. A blind
  // write (no such read: a retry of the same PUT, a write long after its read) exempts
  // nothing.
  bool overwritten_unseen(const std::string& word) const { return unseen_.count(word) > 0; }
  // The longest a read's answer and the write it prompts take to come back and go out (the
  // network's two hops and the driver's step; 0: the adapter answers at once, as the tests).
  void set_round_trip_ms(int64_t ms) { round_trip_ms_ = ms; }

  // The state the mirror must equal.
  std::string presence_definition(const std::string& user) const;
  std::string system_presence(const std::string& definition) const;
  std::vector<ModelConversation> conversations() const;
  std::vector<ModelVoicemail> voicemails() const;
  const std::vector<std::string>& users() const { return user_ids_; }
  std::vector<std::string> aux_definitions() const;  // active User definitions
  uint64_t requests() const { return requests_; }

  // genesys_model_media.cpp (decisions 034, 064): a voicemail's recording. GET
  // /api/v2/voicemail/messages/{id}/media?formatId=WAV answers {id, mediaFileUri, …}, a link
  // on the media host (kMediaHost) valid media_link_ttl_ms; handle() of that link answers
  // the WAV, 403 once it expired (AccessDenied), 404 for a link it never gave (NoSuchKey).
  static constexpr std::string_view kMediaHost = "https://media.sim.invalid/";
  // The platform's bytes of a voicemail's recording (a short WAV made from its id).
  static std::string voicemail_audio(const std::string& voicemail_id);
  void set_media_link_ttl_ms(int64_t ttl) { media_link_ttl_ms_ = ttl; }
  // Whether the platform has this voicemail (not deleted).
  bool has_voicemail(const std::string& id) const;

  // genesys_model_listings.cpp (decision 056): the org's response libraries and responses,
  // its external contacts (GET …/scan/contacts by cursor, DELETE
  // /externalcontacts/contacts/{id}), each user's queues (GET /users/{id}/queues?joined=);
  // changed "on the web" now and then.
  // A contact added, edited or deleted, a response added, edited or deleted (decision 063;
  // pick chooses): what changed.
  std::string web_edit_org_listing(size_t pick, int64_t now_ms);
  // A queue of `user` joined or left in the web interface: what changed.
  std::string web_change_queue(const std::string& user, size_t pick, int64_t now_ms);
  void add_contacts(size_t count);   // a bigger org (tests, benchmarks)
  void add_responses(size_t count);  // in the first library
  // The checker's view: the entities as the platform answers them.
  const boost::json::array& contact_entities() const { return contacts_; }
  const boost::json::array& response_entities() const { return responses_; }
  // The contacts and responses deleted (REST or web), by id.
  const std::set<std::string>& org_deleted() const { return org_deleted_; }
  std::map<std::string, bool> queue_memberships(const std::string& user) const {
    return users_.at(user).queues;
  }

 private:
  // genesys_model_listings.cpp; `status` 0: not a listing route.
  void init_listings(int64_t now_ms);
  ModelAnswer org_listing(const std::string& method, const std::string& path,
                          const std::map<std::string, std::string>& query);
  ModelAnswer user_queues(const std::string& user, const std::map<std::string, std::string>& query,
                          const std::string& path);
  boost::json::object contact(size_t n, int64_t now_ms) const;
  boost::json::array libraries_, responses_, contacts_, queue_definitions_;
  size_t contacts_made_ = 0, responses_made_ = 0;  // ids are never reused after a deletion
  bool delete_contact(const std::string& id);      // false: no such contact
  std::set<std::string> org_deleted_;

  using Object = boost::json::object;
  ModelAnswer user_route(const std::string& method, const std::string& user,
                         const std::string& rest, const std::map<std::string, std::string>& query,
                         const boost::json::value& body, const std::string& path);
  ModelAnswer analytics_query(const boost::json::value& body);
  // genesys_model_web.cpp: a PUT about to replace `conversation`'s draft with `body`.
  void note_overwrite(const std::string& conversation, const boost::json::value& body,
                      int64_t sent_ms);
  // genesys_model_callbacks.cpp (decision 044): POST /conversations/callbacks, and the
  // analytics query's "property" predicates on participant attributes.
  ModelAnswer create_callback(const boost::json::value& body);
  bool queue_exists(const std::string& id) const;
  bool has_attributes(const Object& conversation,
                      const std::map<std::string, std::string>& wanted) const;
  // genesys_model_sends.cpp (decision 055): the email and message sends, the reads a retry
  // looks with, new emails; status 0 when `parts` is none of its routes. A routed email or
  // message conversation starts with the customer's message.
  ModelAnswer send_route(const std::string& method, const std::vector<std::string>& parts,
                         const std::map<std::string, std::string>& query,
                         const boost::json::value& body);
  ModelAnswer create_email(const boost::json::value& body);
  void first_message(Object& conversation, const std::string& media);
  std::map<std::string, boost::json::array> email_messages_;  // by conversation, oldest first
  std::map<std::string, Object> message_data_;  // by message id, with its _conversation
  ModelAnswer wrapup(const std::string& id, const std::string& participant, const std::string& comm,
                     const boost::json::value& body);
  ModelAnswer voicemail(const std::string& method, const std::string& id,
                        const boost::json::value& body);
  ModelAnswer voicemail_media(const std::string& id,
                              const std::map<std::string, std::string>& query);
  ModelAnswer media_download(const std::string& target);
  std::map<std::string, std::pair<std::string, int64_t>> media_links_;  // token -> id, expiry
  int64_t media_link_ttl_ms_ = 60'000;
  uint64_t media_links_made_ = 0;
  ModelAnswer channels(const std::string& method, const std::string& path,
                       const boost::json::value& body);
  ModelAnswer listing(const boost::json::array& entities,
                      const std::map<std::string, std::string>& query, const std::string& path);
  Object user_presence(const std::string& user) const;
  void set_presence(const std::string& user, const std::string& definition);
  Object* agent_participant(Object& conversation);
  Object analytics_tree(const Object& conversation) const;
  void notify(const std::string& topic, boost::json::value body);
  void notify_conversation(Object& conversation);
  std::string iso(int64_t ms) const;
  std::string next_id(const std::string& prefix);

  int64_t now_ms_ = 0;
  std::vector<std::string> user_ids_;
  boost::json::array definitions_;
  boost::json::array wrapup_codes_;
  struct User {
    std::string definition = "pd-offline";
    std::string routing = "OFF_QUEUE";
    std::string modified;
    std::map<std::string, bool> queues;
  };
  std::map<std::string, User> users_;
  std::map<std::string, Object> conversations_;  // insertion order kept by ids (sequence)
  std::vector<std::string> conversation_order_;
  std::map<std::string, Object> drafts_;
  std::set<std::string> replied_;  // email conversations a reply was sent in
  // Per conversation, when the adapter's GETs of its draft and the PUTs of it landed
  // (ascending, as the model's clock).
  std::map<std::string, std::vector<int64_t>> draft_reads_ms_;
  std::map<std::string, std::vector<int64_t>> draft_writes_ms_;
  std::map<std::string, int64_t> web_typed_ms_;  // web word -> when typed
  std::set<std::string> unseen_;
  int64_t round_trip_ms_ = 0;
  std::map<std::string, Object> voicemails_;
  std::vector<std::string> voicemail_order_;
  struct Channel {
    std::set<std::string> topics;
    int64_t expires_ms = 0;
  };
  std::map<std::string, Channel> channels_;
  struct Socket {
    std::string channel;  // empty: closed
    std::vector<std::string> out;
    bool closed = false;  // by the platform
    int64_t last_heartbeat_ms = 0;
  };
  std::map<size_t, Socket> sockets_;  // by the adapter's slot
  int64_t heartbeat_ms_ = 30'000;
  int64_t channel_ttl_ms_ = 86'400'000;
  uint64_t seq_ = 0;
  uint64_t requests_ = 0;
};

}  // namespace outpost::sim
