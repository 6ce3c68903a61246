"""The message catalogue: what a person reads when something is refused, in Chinese and English.

One place for every refusal's message, keyed by the refusal's stable `code`; for a refusal about
one input, by its `field` (labelled as the form labels it: "开始时间", never "start_time") and its
`reason` ("required", "too_long", "minutes_exceed_span" …), filled with safe parameters (limits,
minutes written as durations, object kinds), never with ids or personal data. The API's error
body carries it as `message: {"zh", "en"}` beside the unchanged `code` and `detail`; the web pages
show the page language's half; the CLI prints the Chinese one. `tests/api/test_catalogue.py`
discovers every refusal code and every form and API field and checks both languages are here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from ledger.domain.display import duration_text, duration_words

Message = tuple[str, str]  # (中文, English)
CJK = re.compile(r"[\u4e00-\u9fff]")
LANGUAGES = ("zh", "en")

# code -> (中文, English). Categories first, then the ledger's refusals, the transfer checks, the
# API's own refusals and the HTTP-level codes.
CODES: dict[str, Message] = {
    # ledger/domain/errors.py: categories
    "ledger_error": ("操作未完成。", "That did not work."),
    "not_found": ("未找到：地址或编号有误，或不属于本地区。", "Not found: the address or code is wrong, or not in this region."),
    "invalid_input": ("输入有误，请检查后重试。", "Please check what you entered."),
    "not_permitted": ("无权进行此操作。", "You may not do this."),
    "wrong_state": ("当前状态不允许此操作。", "The current state does not allow this."),
    "exists_with_different_terms": ("该编号已用于另一笔内容，请重新提交。",
                                    "This id was used before with other content: submit again as new."),
    "concurrent_update": ("数据刚被他人更新，请重试。", "Someone changed this at the same moment: try again."),
    "unavailable": ("对方地区暂时无法连接，未作任何更改，请稍后重试。",
                    "The other region did not answer: nothing changed, try again later."),
    # ledger/domain/errors.py: refusals
    "already_exists": ("已经存在，无需重复办理。", "That already exists."),
    "balance_would_go_negative": ("余额不足，本次未扣减。", "Not enough hours: nothing was charged."),
    "redemption_exists_with_different_terms": ("该单号已用于另一笔兑换，请重新开单。",
                                               "This redemption id was used for another basket: start a new one."),
    "member_frozen": ("该党员正在办理跨地区转移，账户已冻结，暂不能办理。",
                      "The member is being transferred to another region: the account is frozen."),
    "member_not_registered": ("该党员尚未到社区报到登记。", "The member has not registered with a community yet."),
    "session_not_rated": ("请先评价（优/良/一般），再认证。", "Rate the session (优/良/一般) before certifying it."),
    "session_already_decided": ("该记录已认证或已不予认证。", "This record was already certified or rejected."),
    "session_not_certified": ("该记录尚未认证。", "This record is not certified."),
    "last_post_cannot_be_released": ("至少保留一个岗位。", "At least one post must stay claimed."),
    "item_not_available": ("该商品已下架或不在本柜台目录中。", "That item is delisted or not in this counter's catalogue."),
    "order_wrong_state": ("订单当前状态不允许此操作。", "The order's state does not allow this."),
    "key_revoked": ("签名密钥已吊销。", "The signing key is revoked."),
    "key_not_certified": ("签名密钥未经上级认证。", "The signing key is not certified by the role above."),
    "signature_invalid": ("签名核验未通过，请刷新后重试。", "The signature does not verify: reload and try again."),
    "consent_missing": ("党员尚未单独同意向本单位提供服务记录。",
                        "The member has not consented to share the record with this unit."),
    "personal_data_erased": ("个人信息已应本人申请删除。", "The personal data was erased at the member's request."),
    "member_key_locked": ("该党员的签名密钥由本人密码保护，只能由本人登录后办理。",
                          "The member's key is protected by their password: only their own sign-in may do this."),
    "member_key_held_by_member": ("该党员已自行保管签名密钥，社区不能再代为签名。",
                                  "The member holds their own key: the community may no longer sign for them."),
    "report_slip_names_another_community": ("该党员的报到单指定的是另一个社区，不能在本社区登记。",
                                            "The member's report slip names another community."),
    # elsewhere in ledger/
    "invalid_calendar": ("节假日安排格式不对，请检查后重试。", "The holiday calendar is not valid: check it and try again."),
    "demo_predates_region": ("演示年份早于本地区密钥的生成时间，请换一个年份。",
                             "The demo year predates the region's keys: choose another year."),
    "transfer_refused": ("转移包未通过核验，未作任何更改。", "The transfer bundle does not verify: nothing changed."),
    "bundle_wrong_destination": ("该转移包是发往另一个地区的。", "The bundle is addressed to another region."),
    "transfer_already_imported": ("本地区已接收过该转移。", "This region imported the transfer already."),
    "transfer_not_expired": ("转移尚未超时，暂不能答复“未接收”。",
                             "The transfer has not expired yet: it cannot be answered \"not imported\"."),
    "transfer_void_needs_answer": ("仅超时不能撤销转移：请先取得对方地区的答复。",
                                   "A timeout alone voids nothing: get the destination's answer first."),
    # ledger/application/transfers.py: which check of a bundle or receipt failed
    "bundle_balance_mismatch": ("转移包中的余额与服务记录不符。", "The bundle's balance does not match its records."),
    "bundle_event_invalid": ("转移包中有一条记录无法核验。", "A record in the bundle does not verify."),
    "bundle_history_invalid": ("转移包中的记录链不完整或被改动。", "The bundle's history is incomplete or altered."),
    "bundle_merkle_invalid": ("转移包的日志证明无法核验。", "The bundle's log proof does not verify."),
    "bundle_personal_invalid": ("转移包中的个人信息无法核验。", "The bundle's personal data does not verify."),
    "bundle_signature_invalid": ("转移包不是来源地区签发的原件（传输中被改动或重新编码）。",
                                 "The bundle is not the copy the source region signed (altered or re-encoded in transit)."),
    "bundle_prior_invalid": ("转移包中此前的转移记录无法核验。", "The bundle's earlier transfers do not verify."),
    "bundle_too_large": ("转移包过大。", "The bundle is too large."),
    "bundle_transfer_invalid": ("转移包中的转移记录无法核验。", "The bundle's transfer record does not verify."),
    "bundle_unreadable": ("无法读取转移包：文件损坏或不是转移包。", "The bundle cannot be read: damaged or not a bundle."),
    "member_already_active": ("该党员已在本地区在册。", "The member is already active in this region."),
    "peer_certificate_invalid": ("对方地区的证书无法核验。", "The other region's certificate does not verify."),
    "peer_key_mismatch": ("对方地区名片中的密钥与其证书不符。", "The region card's key is not the one its certificate registers."),
    "peer_not_certified_by_root": ("对方地区未经省级根密钥认证。", "The other region is not certified by the province root."),
    "receipt_invalid": ("回执无法核验。", "The receipt does not verify."),
    "receipt_signature_invalid": ("回执的签名无法核验。", "The receipt's signature does not verify."),
    "receipt_unreadable": ("无法读取回执：文件损坏或不是回执。", "The receipt cannot be read: damaged or not a receipt."),
    "receipt_wrong_bundle": ("该回执对应的是另一个转移包。", "The receipt is for another bundle."),
    "source_key_mismatch": ("来源地区的密钥与登记的不符。", "The source region's key is not the registered one."),
    "source_not_registered": ("来源地区不在本地区的联网登记中。", "The source region is not in this region's registry."),
    "transfer_already_rejected": ("该转移已被拒收。", "The transfer was rejected already."),
    "transfer_expired": ("该转移已超时。", "The transfer has expired."),
    # 通存通兑: redeeming at a counter of another region (issue #14)
    "anywhere_refused": ("跨区兑换请求未通过核验，未作任何更改。", "The cross-region redemption message does not verify: nothing changed."),
    "anywhere_message_unreadable": ("无法读取跨区兑换消息：已损坏或格式不对。", "The cross-region redemption message cannot be read."),
    "anywhere_message_invalid": ("跨区兑换消息的内容不合规（如合计与明细不符），未作任何更改。",
                                 "The cross-region redemption message is not valid (e.g. its total is not the basket's): nothing changed."),
    "anywhere_unknown_region": ("发来请求的地区不在本地区的联网登记中。", "The region that sent the request is not in this region's registry."),
    "anywhere_wrong_key": ("该消息不是用发送地区登记的密钥签名的。", "The message is not signed with the sending region's registered key."),
    "anywhere_signature_invalid": ("跨区兑换消息的签名无法核验。", "The cross-region redemption message's signature does not verify."),
    "anywhere_wrong_home": ("该请求是发给另一个地区的。", "The request is addressed to another region."),
    "anywhere_answer_mismatch": ("党员所属地区的答复与本次兑换不符，未作任何更改。",
                                 "The home region's answer is not about this redemption: nothing changed."),
    "home_region_refused": ("党员所属地区拒绝了本次兑换，未扣减。", "The member's home region refused this redemption: nothing was charged."),
    "member_not_found": ("党员所属地区没有这个党员编号（党员码有误，或已转出），本次未扣减。",
                         "The member's home region has no member with this code (a wrong code, or moved away): "
                         "nothing was charged."),
    "home_region_not_peer": ("党员码上的地区未与本地区开通通存通兑（不在本地区的联网登记中），本柜台不能兑换。",
                             "The region on the member code is not a registered peer of this region (no cross-region "
                             "redemption with it): it cannot be used here."),
    "home_region_rejected_request": ("党员所属地区不接受本地区的请求（可能未登记本地区或其密钥），未扣减；请地区管理员核对双方的联网登记。",
                                     "The member's home region would not read this region's request (it may not have "
                                     "registered this region or its key): nothing was charged; the regions' "
                                     "administrators should check their federation registries."),
    "home_region_unreachable": ("无法连接党员所属地区，本次未扣减，请稍后重试。",
                                "The member's home region did not answer: nothing was charged; please retry."),
    "hold_pending": ("该党员有跨区兑换的时长正在冻结中，结清后才能转移。",
                     "Minutes are held for a counter of another region: settle them before moving."),
    "hold_not_found": ("党员所属地区没有这笔跨区兑换的冻结记录。", "The home region holds nothing for this redemption."),
    "hold_released": ("这笔跨区兑换已撤销，冻结的时长已退回，不能再扣减。",
                      "This cross-region redemption was voided and its minutes returned: it cannot be charged."),
    "hold_captured": ("这笔跨区兑换已扣减，不能撤销。", "This cross-region redemption was charged: it cannot be voided."),
    "hold_expired": ("这笔跨区兑换超时未确认，冻结的时长已退回，请重新兑换。",
                     "This cross-region redemption was not confirmed in time and its minutes were returned: redeem again."),
    "settlement_refused": ("结算单未通过核验。", "The settlement statement does not verify."),
    "settlement_unreadable": ("无法读取结算单：已损坏或格式不对。", "The settlement statement cannot be read."),
    "settlement_totals_mismatch": ("结算单的合计与其明细不符，不予采信。",
                                   "The statement's totals are not the sums of its entries: it is not taken."),
    "settlement_wrong_region": ("该结算单是发给另一个地区的。", "The settlement statement is for another region."),
    "settlement_unknown_region": ("出具结算单的地区不在本地区的联网登记中。", "The region that made the statement is not in this region's registry."),
    "settlement_wrong_key": ("该结算单不是用出具地区登记的密钥签名的。", "The statement is not signed with the issuing region's registered key."),
    "settlement_checkpoint_invalid": ("结算单所附检查点不是出具地区签署的，或与结算单不符。",
                                      "The statement's checkpoint is not signed by the issuing region, or names another tree."),
    "settlement_signature_invalid": ("结算单的签名无法核验。", "The settlement statement's signature does not verify."),
    "settlement_peer_unreachable": ("无法连接对方地区，本次未能对账，请稍后重试。", "The other region did not answer: no settlement this time; try again later."),
    "settlement_peer_refused": ("对方地区未接受本地区的结算单（请核对双方的联网登记）。", "The other region refused this region's statement (check both regions' registries)."),
    # the auditor's offline check of two regions' settlement evidence (findings, ledger/verification/settlement.py)
    "root_key_missing": ("缺少省级根公钥。", "No root public key was given."),
    "evidence_unreadable": ("无法读取证据包：已损坏、被改动或格式不对。",
                            "The evidence cannot be read: damaged, edited or not evidence."),
    "key_untrusted": ("结算单的签名密钥不是经根公钥认证的该地区密钥。",
                      "The statement is not signed by a region key the root certified."),
    "statement_signature_invalid": ("结算单的签名无法核验（出具后被改动）。",
                                    "The statement's signature does not verify (changed after signing)."),
    "checkpoint_invalid": ("结算单所附检查点不是该地区签署的，或与结算单不符。",
                           "The statement's checkpoint is not signed by the region, or names another tree."),
    "event_not_in_log": ("某条事件未被证明收录在该地区的日志中。", "An event is not proven to be in the region's log."),
    "event_invalid": ("某条事件的签名或签名密钥无法核验。", "An event's signature or signing key does not verify."),
    "entry_unproven": ("结算单所列的一笔兑换没有对应的已签名扣减记录。",
                       "A redemption the statement lists is not backed by its signed capture."),
    "evidence_extra_event": ("证据包含有与结算单无关的事件。", "The evidence holds an event that backs no entry."),
    "evidence_not_a_pair": ("两个证据包不是两个地区互相出具的。", "The two files are not two regions' statements to each other."),
    "answer_key_untrusted": ("兑换地保存的归属地答复不是归属地经认证的密钥签名的。",
                             "An answer the counter region kept is not signed by a certified key of the home region."),
    "answer_signature_invalid": ("兑换地保存的归属地答复签名无法核验。",
                                 "An answer the counter region kept does not verify."),
    "settlement_verdict_invalid": ("对方地区的核对结论未经其签名或不是针对本地区所发结算单的，不予采信。",
                                   "The other region's verdict is not signed by it about the statement sent: it is not taken."),
    "destination_unreachable": ("无法连接目标地区，未作任何更改，请稍后重试或改用文件转移。",
                                "The destination region did not answer: nothing changed; retry later or transfer by files."),
    # api/: the API's own refusals
    "api_error": ("操作未完成。", "That did not work."),
    "not_authenticated": ("请先登录。", "Please sign in."),
    "invalid_credentials": ("用户名或密码错误。", "Wrong username or password."),
    "token_expired": ("登录已过期，请重新登录。", "Your sign-in expired: sign in again."),
    "token_revoked": ("登录已失效，请重新登录。", "Your sign-in was ended: sign in again."),
    "member_login_by_member_only": ("党员账号只能由本人登录使用。", "A member's login is used by the member only."),
    "too_many_attempts": ("尝试次数过多，请稍后再试。", "Too many attempts: try again later."),
    "sign_in_busy": ("登录繁忙，请稍后再试。", "Sign-in is busy: try again shortly."),
    "weak_password": ("密码不符合要求：至少 10 个字符，且不要使用常见密码。",
                      "The password is not accepted: at least 10 characters, not a common one."),
    "member_key_not_own": ("同意和建议须由党员本人持有的密钥签名：请先凭激活码设置本人登录。",
                           "Consents and suggestions are signed with the member's own key: set up the member's own "
                           "login with an activation code first."),
    "activation_code_invalid": ("激活码无效、已使用或已过期，请向单位或社区重新领取。",
                                "The activation code is unknown, used or expired: ask your unit or community for a new one."),
    "member_login_exists": ("该党员已设置本人登录，只能由本人修改；忘记密码请由地区管理员说明理由后重置。",
                            "The member already has a login: only the member can change it; a forgotten password is "
                            "reset by the region admin, with a reason."),
    "reason_required": ("请填写理由。", "Please give a reason."),
    "idempotency_key_reused": ("该单号已用于另一笔内容，请重新开单。",
                               "This request id was used for something else: start a new basket."),
    "idempotency_key_in_progress": ("上一次提交仍在处理中，请稍后点“重试”（不会重复办理）。",
                                    "The previous attempt is still running: retry shortly (it will not be done twice)."),
    "invalid_header": ("请求头格式不对。", "A request header is not valid."),
    "rate_limited": ("请求过于频繁，请稍后再试。", "Too many requests: try again shortly."),
    "csrf_refused": ("页面已过期或来自其他网站，请刷新页面后重试。",
                     "The page is out of date or came from another site: reload and try again."),
    "wrong_role_page": ("此页面不属于当前登录的角色，请用相应账号登录。",
                        "This page is for another role: sign in with that login."),
    "request_too_large": ("文件或表单过大。", "The file or form is too large."),
    # api/errors.py: HTTP-level codes and the error handlers' own
    "bad_request": ("请求有误。", "Bad request."),
    "method_not_allowed": ("不支持此操作方式。", "That method is not allowed here."),
    "not_acceptable": ("无法提供所要求的格式。", "That format cannot be provided."),
    "conflict": ("与当前状态冲突，请刷新后重试。", "That conflicts with the current state: reload and try again."),
    "unsupported_media_type": ("不支持的内容类型。", "Unsupported content type."),
    "invalid_request": ("输入有误，请检查后重试。", "Please check what you entered."),
    "too_many_requests": ("请求过于频繁，请稍后再试。", "Too many requests: try again shortly."),
    "http_error": ("操作未完成。", "That did not work."),
    "invalid_json": ("提交的内容不是有效的 JSON。", "The request body is not valid JSON."),
    "internal_error": ("系统内部错误，已记录，请稍后重试。", "Internal error: it was logged; try again later."),
    "docs_assets_missing": ("接口文档的页面文件缺失。", "The API documentation's files are missing."),
    # api/web: the pages' own
    "invalid_member_code": ("党员编号格式不对，请重新扫码或输入。", "That is not a member code: scan or type it again."),
    "certificate_invalid": ("核验未通过。", "Verification failed."),
    # api/web/pages/audit.py: what the auditor's upload turned out to be, and which check failed
    "file_is_pdf": ("这是 PDF 文件，不是电子凭证：请上传证明附带的 JSON 凭证文件，或把证明上二维码的内容填入下方。",
                    "This is a PDF file, not the electronic certificate: upload the JSON file that comes with it, "
                    "or enter the text of its QR code below."),
    "file_is_image": ("这是图片文件，不是电子凭证：请上传 JSON 凭证文件，或把二维码的内容填入下方。",
                      "This is an image, not the electronic certificate: upload the JSON file, or enter the text of "
                      "its QR code below."),
    "file_is_archive": ("这是压缩包或办公文档，不是电子凭证：请上传 JSON 凭证文件或转移包。",
                        "This is an archive or office document, not a certificate: upload the JSON certificate or "
                        "transfer bundle."),
    "file_is_binary": ("这不是文本文件，无法核验：请上传 JSON 凭证文件或转移包。",
                       "This is not a text file and cannot be verified: upload the JSON certificate or transfer bundle."),
    "file_not_json": ("文件内容不是 JSON，不是本系统出具的电子凭证或转移包。",
                      "The file is not JSON: it is not a certificate or transfer bundle of this system."),
    "json_too_deep": ("文件的 JSON 嵌套过深，不是本系统出具的电子凭证或转移包。",
                      "The file's JSON is nested too deeply: it is not a certificate or transfer bundle of this system."),
    "file_not_certificate": ("这是 JSON 文件，但不是本系统出具的服务证明或转移包。",
                             "This is JSON, but not a certificate or transfer bundle of this system."),
    "certificate_format_invalid": ("文件格式不对，或出具后被编辑、重新编码过。",
                                   "The file's format is wrong, or it was edited or re-encoded after it was issued."),
    "certificate_event_invalid": ("有一条服务记录的签名、签名密钥或记录链核验未通过：文件可能被改动。",
                                  "A record's signature, signing key or chain does not verify: the file may have "
                                  "been altered."),
    "certificate_checkpoint_invalid": ("区级检查点的签名核验未通过。", "The region checkpoint's signature does not verify."),
    "certificate_inclusion_invalid": ("有服务记录未收录在地区日志中（包含证明不成立）。",
                                      "A record is not proven to be in the region's log."),
    "certificate_content_invalid": ("证书内容与所附记录不符（党员、服务记录、统计期间或合计时长）。",
                                    "The certificate does not match its records (member, sessions, period or total)."),
    "certificate_seal_invalid": ("区级印章核验未通过：证书出具后被改动过。",
                                 "The region's seal does not verify: the certificate was changed after it was issued."),
    "certificate_reference_mismatch": ("二维码内容与此文件不符（编号、文件摘要或时长不同）。",
                                       "The QR code does not match this file (number, digest or total differ)."),
    # issue #15: check-in (签到签退) refusals
    "checkin_code_malformed": ("这不是签到码：请扫描活动现场屏幕上的二维码，或完整粘贴签到码。",
                               "That is not a check-in code: scan the QR on the screen at the venue, or paste the whole code."),
    "checkin_code_signature_invalid": ("签到码已被改动或不是本社区签发的，不能使用。",
                                       "The check-in code was altered or not issued by this community: it cannot be used."),
    "checkin_code_expired": ("签到码已过期（二维码每30秒更换）：请扫描现场屏幕上的最新二维码。",
                             "The check-in code has expired (it changes every 30 seconds): scan the current QR at the venue."),
    "checkin_code_wrong_activity": ("这是另一个活动的签到码。", "That check-in code is for another activity."),
    "activity_closed": ("活动已结束，不能再签到或签退。", "The activity is over: no more check-ins or check-outs."),
    "member_not_registered_here": ("该党员未在举办活动的社区报到，不能在此签到。",
                                   "The member is not registered with the community running this activity."),
    "not_an_organiser": ("社区未指定您为活动组织者：请由社区办公室开放活动、出示签到码。",
                         "The community has not named you an organiser: its office runs the activity."),
    "organiser_withdrawn": ("社区已撤销您的活动组织者身份，不能再组织本社区的活动。",
                            "The community withdrew you as organiser: you no longer run its activities."),
    "already_checked_in": ("已经签到过了，无需重复签到。", "Already checked in: no need to check in again."),
    "not_checked_in": ("尚未签到，不能签退：请先签到。", "Not checked in yet, so nothing to check out: check in first."),
    "invalid_search": ("请输入姓名，或手机号后4位数字。", "Type a name, or the last four digits of the phone number."),
    # offline capture at the counter (离线兑换, issue #15): shown on the device beside the refused record
    "offline_redemptions_off": ("本地区未开放离线兑换：请联网后再兑换（地区可设置每人每日离线兑换上限）。",
                                "This region allows no offline redemption: redeem once the connection is back."),
    "offline_bound_exceeded": ("超出本地区离线兑换上限：该党员今日在本柜台的离线兑换已达上限。",
                               "Over the region's offline bound for this member at this counter today."),
    "device_key_unknown": ("本机设备密钥未在本柜台登记：请联网后在收银台页面重新登记本机。",
                           "This device's key is not registered to this counter: register the device again online."),
    "device_key_revoked": ("本机设备密钥已被社区吊销，离线记录不予接受：请联系社区核实。",
                           "This device's key was revoked by the community: its offline records are not accepted."),
    "device_signature_invalid": ("离线记录的签名与内容不符（记录被改动或不是本机签署），不予接受。",
                                 "The offline record's signature does not match it (altered, or not this device's)."),
    "offline_record_invalid": ("离线记录内容不完整或时间不对（如设备时钟有误），不予接受。",
                               "The offline record is incomplete or wrongly dated (is the device clock right?)."),
    "offline_item_unknown": ("离线记录中的商品不在本社区目录中，不予接受。",
                             "An item in the offline record is not in this community's catalogue."),
}
UNKNOWN: Message = ("操作未完成。", "That did not work.")

# The kinds of object a `not_found` names (`params["kind"]`, the aggregate's class name).
KINDS: dict[str, Message] = {
    "Member": ("党员", "member"), "TimeAccount": ("党员的时间账户", "member's time account"),
    "ServiceSession": ("服务记录", "service record"), "ReportSlip": ("报到单", "report slip"),
    "Order": ("订单", "order"), "Suggestion": ("建议", "suggestion"), "Transfer": ("转移", "transfer"),
    "TransferImport": ("转移", "transfer"), "TransferRejection": ("转移", "transfer"),
    "Unit": ("单位", "unit"), "Community": ("社区", "community"), "Counter": ("爱心超市柜台", "counter"),
    "Region": ("地区", "region"), "Key": ("密钥", "key"), "ScoringPolicy": ("积分办法", "scoring policy"),
    "Post": ("岗位", "post"), "Team": ("队伍", "team"), "MenuItem": ("服务菜单项", "menu item"),
    "Organiser": ("活动组织者", "organiser"),
    "Consent": ("同意", "consent"),
}
NOT_FOUND_KIND: Message = ("未找到该{kind}：编号有误，或不属于本地区。", "No such {kind}: the code is wrong, or not in this region.")

# reason -> (中文, English): what is wrong with one input; {placeholders} from the refusal's params.
REASONS: dict[str, Message] = {
    "required": ("必须填写", "required"),
    "choose_at_least_one": ("请至少选择一项", "choose at least one"),
    "choose_one": ("请从列表中选择", "choose one from the list"),
    "too_long": ("不能超过 {chars_max} 个字", "at most {chars_max} characters"),
    "too_short": ("太短", "too short"),
    "too_many": ("最多选择 {items_max} 项", "choose at most {items_max}"),
    "invalid": ("格式不对", "not in the right format"),
    "time_of_day": ("格式不对，请按“时:分”填写，如 09:00", "not a time of day: write it as HH:MM, e.g. 09:00"),
    "end_before_start": ("须晚于开始时间", "must be after the start time"),
    "minutes_exceed_span": ("{minutes_words}超过起止时间之差{span_words}（路途时间不计入）",
                            "{minutes_hours} exceeds the time between start and end ({span_hours}); "
                            "travel time does not count"),
    "date_in_future": ("服务日期不能晚于记录日期", "the service date cannot be after today"),
    "not_a_date": ("请填写日期，如 2026-05-16", "not a date: e.g. 2026-05-16"),
    "date_out_of_range": ("须在 {earliest} 至 {latest} 之间", "must be between {earliest} and {latest}"),
    "whole_minutes": ("请填写整数分钟数", "whole minutes, please"),
    "whole_number": ("请填写整数", "a whole number, please"),
    "minutes_out_of_range": ("须在 {low} 至 {high} 分钟之间", "must be {low} to {high} minutes"),
    "out_of_range": ("超出允许范围", "out of range"),
    "offline_bound_exceeded": ("超出本地区离线兑换上限：该党员今日在本柜台已离线兑换 {used_words}，每人每日上限 {bound_words}",
                               "over the region's offline bound: {used_hours} already redeemed offline here today, "
                               "the daily bound is {bound_hours}"),
    "offline_device_bound_exceeded": ("超出本地区离线兑换总量上限：本机今日已离线兑换 {used_words}，每台设备每日上限 {bound_words}",
                                      "over the region's offline total: this device took {used_hours} offline today, "
                                      "the daily bound per device is {bound_hours}"),
    "control_character": ("含有不允许的控制字符", "contains a control character that is not allowed"),
    "region_code": ("须为 6 位地区代码", "must be a 6-digit region code"),
    "not_an_id": ("编号格式不对，请重新扫码或从列表中选择", "not a valid code: scan it again or choose from the list"),
    "not_a_member_code": ("不是党员编号，请重新扫码或输入", "not a member code: scan or type it again"),
    "reason_required": ("不予认证须填写理由", "a rejection needs a reason"),
    "username_taken": ("该登录名已被使用，请换一个", "this username is taken: choose another"),
    # api/passwords.py: what to change in a refused password
    "password_length": ("密码长度须为 {chars_min}–{chars_max} 个字符", "The password needs {chars_min} to {chars_max} characters."),
    "password_repeats": ("密码过于简单：重复的字符太多", "Too simple: too few different characters."),
    "password_run": ("密码过于简单：不能是连续的数字或字母", "Too simple: not a run of consecutive digits or letters."),
    "password_has_username": ("密码不能包含用户名", "The password must not contain the username."),
    "password_common": ("密码过于常见，容易被猜中，请换一个", "This password is too common: choose another."),
}

# field -> (中文标签, English label): every form field and every API input field.
FIELDS: dict[str, Message] = {
    # offline capture at the counter (离线兑换, issue #15): an offline record and the region's bound
    "record": ("离线兑换记录", "Offline record"), "signature": ("签名", "Signature"),
    # the auditor's settlement evidence upload (issue #14)
    "scan_id": ("扫码编号", "Scan id"), "scanned_at": ("扫码时间", "Scanned at"), "community": ("社区", "Community"),
    "first": ("一方地区的证据包", "One region's evidence"), "second": ("另一方地区的证据包", "The other region's evidence"),
    "other_root": ("另一方的省级根公钥", "The other region's root public key"),
    "counter": ("柜台", "Counter"), "region": ("地区", "Region"), "device_key_id": ("设备密钥", "Device key"),
    "created_at": ("记录时间", "Recorded at"),
    "minutes_per_member_day": ("每人每日离线兑换上限（分钟）", "Offline bound per member per day (minutes)"),
    "minutes_per_device_day": ("每台设备每日离线兑换总量上限（分钟）", "Offline total per device per day (minutes)"),
    # sessions (附件5)
    "activity": ("服务活动", "Activity"), "content": ("服务内容", "Content"), "place": ("服务地点", "Place"),
    "service_date": ("服务日期", "Service date"), "start_time": ("开始时间", "Start time"),
    "end_time": ("结束时间", "End time"), "minutes": ("服务时长（分钟）", "Minutes"),
    "organiser": ("组织者", "Organiser"), "recipient": ("服务对象", "Recipient"),
    "rating": ("评价", "Rating"), "session": ("服务记录", "Service record"), "session_id": ("服务记录", "Service record"),
    "reason": ("理由", "Reason"), "rejection": ("不予认证理由", "Rejection reason"), "action": ("操作", "Action"),
    "post_id": ("岗位", "Post"), "post_ids": ("认领岗位", "Claimed posts"), "order_id": ("订单", "Order"),
    # members, registration (附件2)
    "member": ("党员", "Member"), "member_id": ("党员", "Member"), "home_region": ("党员所属地区", "Home region"), "offline": ("离线先行", "Take it offline"), "name": ("名称", "Name"),
    "party_status": ("党员类别", "Party status"), "party_joined": ("入党时间", "Joined the Party"),
    "sex": ("性别", "Sex"), "education": ("文化程度", "Education"), "specialities": ("特长", "Specialities"),
    "hobbies": ("爱好", "Hobbies"), "available_time": ("可服务时间", "Available time"),
    "ethnicity": ("民族", "Ethnicity"), "birth_month": ("出生年月", "Month of birth"), "health": ("健康状况", "Health"),
    "mobile": ("本人手机", "Mobile"), "unit_phone": ("单位电话", "Unit phone"), "unit_address": ("单位地址", "Unit address"),
    "home_address": ("家庭住址", "Home address"), "job_title": ("职务", "Job title"),
    "reported_on": ("报到日期", "Date reported"),
    "profile": ("登记信息", "Profile"), "personal": ("个人信息", "Personal details"),
    "willing_other_service": ("愿意参加其他服务", "Willing to serve elsewhere"),
    "slip_id": ("报到单", "Report slip"), "community_id": ("社区", "Community"), "count": ("份数", "Copies"),
    "team_id": ("队伍", "Team"), "kind": ("类别", "Kind"), "title": ("名称", "Title"), "note": ("备注", "Note"),
    "agency": ("交转机构", "Agency"), "suggestion_id": ("建议", "Suggestion"),
    "purpose": ("用途", "Purpose"), "consent_id": ("同意", "Consent"), "destination": ("目标地区", "Destination region"),
    "year": ("年度", "Year"), "from_year": ("起始年度", "From year"), "reference": ("案号", "Case reference"),
    "menu_item_id": ("服务菜单项", "Menu item"),
    # counters and catalogue
    "item_id": ("商品", "Item"), "items": ("商品", "Items"), "quantity": ("数量", "Quantity"),
    "price_minutes": ("兑换所需时长（分钟）", "Price (minutes)"), "redemption_id": ("兑换单号", "Redemption id"),
    "code": ("编号", "Code"),
    # organisations and region settings
    "unit_type": ("单位类别", "Unit type"), "declared_members": ("在职党员总数", "Members in service"),
    "address": ("地址", "Address"), "county": ("区县", "County"), "street": ("街道", "Street"),
    "display_name": ("显示名称", "Display name"), "deadline": ("报到截止日期", "Reporting deadline"),
    "storage_cap_minutes": ("存储上限（分钟）", "Storage cap (minutes)"),
    "clear_storage_cap": ("取消存储上限", "Clear the storage cap"), "owner_id": ("所属单位或社区", "Owner"),
    "source": ("来源", "Source"), "published_on": ("发布日期", "Published on"), "label": ("说明", "Label"),
    "holidays": ("法定节假日", "Public holidays"), "workdays": ("调休工作日", "Adjusted working days"),
    # scoring policy
    "version": ("版本", "Version"), "rules": ("积分规则", "Rules"), "star_thresholds": ("星级分数线", "Star thresholds"),
    "points_per_certified_hour": ("每认证小时积分", "Points per certified hour"),
    "points_per_certified_session": ("每次认证服务积分", "Points per certified session"),
    "points_per_adopted_suggestion": ("每条采纳建议积分", "Points per adopted suggestion"),
    "points_per_distinct_item": ("每项不同服务积分", "Points per distinct item"),
    "points_per_excellent_order": ("每个好评订单积分", "Points per excellent order"),
    "rating_factor_permille": ("评价系数（千分比）", "Rating factor (per mille)"),
    "excellent": ("优", "Excellent"), "good": ("良", "Good"), "fair": ("一般", "Fair"),
    "assurance_factor_permille": ("记录方式系数（千分比）", "Factor by how the hours were recorded (per mille)"),
    "self_reported": ("事后填报", "Typed afterwards"), "checked_in": ("签到签退", "Checked in and out"),
    "imported": ("纸质记录导入", "Imported from paper"),
    # keys, federation, transfers
    "key_id": ("密钥", "Key"), "root_key_id": ("根密钥", "Root key"), "public_key": ("公钥", "Public key"),
    "sealing_key": ("加密公钥", "Sealing key"), "certificate": ("证书", "Certificate"),
    "effective_at": ("生效时间", "Effective at"), "actor_id": ("签名人", "Signer"), "transfer_id": ("转移", "Transfer"),
    "force": ("强制", "Force"), "format": ("格式", "Format"),
    # logins and files
    "username": ("用户名", "Username"), "password": ("密码", "Password"), "password_again": ("再次输入密码", "Password again"),
    "old_password": ("原密码", "Current password"), "new_password": ("新密码", "New password"),
    "file": ("文件", "File"), "qr": ("二维码内容", "QR code text"),
    # issue #12 / #15: the region's, the offices', the residents' and the check-in forms
    "activity_id": ("活动", "Activity"), "back": ("返回页面", "Return page"), "card": ("地区名片", "Region card"),
    "confirm": ("确认", "Confirmation"), "days": ("天数", "Days"), "expected_members": ("预计参加人数", "Expected members"),
    "from": ("起始日期", "From"), "to": ("截止日期", "To"), "member_ids": ("党员", "Members"),
    "member_name": ("党员姓名", "Member's name"), "no_cap": ("不设上限", "No cap"), "order": ("居民订单", "Resident order"),
    "partial": ("只导入无问题的行", "Only the rows without problems"), "percent": ("百分比", "Percent"),
    "post": ("岗位", "Post"), "q": ("查找内容", "Search"), "required": ("必填", "Required"),
    "resident_id": ("居民", "Resident"), "serves": ("服务范围", "Serves"), "sha256": ("文件", "File"),
    "unit": ("单位", "Unit"),
}

# pydantic's error types -> our reasons
_PYDANTIC_REASONS: dict[str, str] = {
    "missing": "required", "string_too_short": "required", "string_too_long": "too_long",
    "too_short": "choose_at_least_one", "too_long": "too_many", "int_parsing": "whole_number",
    "int_type": "whole_number", "int_from_float": "whole_number", "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range", "greater_than": "out_of_range", "less_than": "out_of_range",
    "uuid_parsing": "not_an_id", "uuid_type": "not_an_id", "date_from_datetime_parsing": "not_a_date",
    "date_parsing": "not_a_date", "date_type": "not_a_date", "literal_error": "choose_one", "enum": "choose_one",
    "string_pattern_mismatch": "invalid",
}


def _index(lang: str) -> int:
    return 1 if lang == "en" else 0


def code_message(code: str) -> Message:
    return CODES.get(code, UNKNOWN)


def field_label(field: str, lang: str = "zh") -> str:
    label = FIELDS.get(field)
    if label is None:
        return "该项" if lang != "en" else "This field"
    return label[_index(lang)]


def _format_params(params: Mapping[str, Any], lang: str) -> dict[str, str]:
    """Parameters as a person reads them: minutes as durations (1小时15分 / 1:15), kinds by name."""
    shown: dict[str, str] = {}
    for key, value in params.items():
        shown[key] = str(value)
        if key.endswith("minutes") and isinstance(value, int) and not isinstance(value, bool):
            stem = key[: -len("_minutes")] if key != "minutes" else "minutes"
            shown[f"{stem}_words"] = duration_words(value)
            shown[f"{stem}_hours"] = duration_text(value) + " h"
    return shown


def _reason_text(reason: str, params: Mapping[str, Any], lang: str) -> str:
    template = REASONS.get(reason, REASONS["invalid"])[_index(lang)]
    try:
        return template.format(**_format_params(params, lang))
    except (KeyError, IndexError, ValueError):
        return REASONS["invalid"][_index(lang)]


def field_message(field: str, reason: str, params: Mapping[str, Any] | None = None, lang: str = "zh") -> str:
    """"开始时间：格式不对" / "Start time: not in the right format"."""
    colon = ": " if lang == "en" else "："
    return f"{field_label(field, lang)}{colon}{_reason_text(reason, params or {}, lang)}"


def _pydantic_field(location: Iterable[Any]) -> str:
    names = [str(part) for part in location if isinstance(part, str) and part not in ("body", "query", "path")]
    known = [name for name in names if name in FIELDS]
    if known:
        return known[-1]
    return names[0] if names else ""


def _pydantic_items(errors: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    items = []
    for item in errors:
        context = item.get("ctx") or {}
        params = {"chars_max": context.get("max_length", ""), "items_max": context.get("max_length", "")}
        items.append((_pydantic_field(item.get("loc", ())), _PYDANTIC_REASONS.get(str(item.get("type")), "invalid"),
                      params))
    return items


def field_errors(error: BaseException, lang: str = "zh") -> dict[str, str]:
    """Each input the refusal is about -> its message (without the label: it stands next to the field)."""
    found: dict[str, str] = {}
    listed = getattr(error, "errors", None)  # pydantic's ValidationError, FastAPI's RequestValidationError
    if callable(listed) and not hasattr(error, "code"):
        try:
            errors = list(listed())
        except TypeError:
            errors = []
        for input_name, input_reason, params in _pydantic_items(errors):
            if input_name:
                found.setdefault(input_name, _reason_text(input_reason, params, lang))
        return found
    name = getattr(error, "field", None)
    reason = getattr(error, "reason", None)
    if isinstance(name, str) and name:
        found[name] = _reason_text(reason if isinstance(reason, str) else "invalid",
                                   getattr(error, "params", None) or {}, lang)
    return found


def message(error: BaseException, lang: str = "zh") -> str:
    """The whole message for a person, in one language: the field's label and what is wrong with it
    where the refusal is about an input, otherwise the code's message."""
    colon = ": " if lang == "en" else "："
    separator = "; " if lang == "en" else "；"
    fields = field_errors(error, lang)
    if fields:
        return separator.join(f"{field_label(f, lang)}{colon}{text}" for f, text in list(fields.items())[:5])
    code = getattr(error, "code", None)
    if isinstance(error, ValidationError) or not isinstance(code, str):
        return code_message("invalid_input")[_index(lang)]
    reason = getattr(error, "reason", None)
    params = getattr(error, "params", None) or {}
    if isinstance(reason, str) and reason in REASONS:
        return _reason_text(reason, params, lang)
    kind = params.get("kind") if isinstance(params, Mapping) else None
    if code == "not_found" and isinstance(kind, str) and kind in KINDS:
        return NOT_FOUND_KIND[_index(lang)].format(kind=KINDS[kind][_index(lang)])
    if code in GENERIC_CODES:  # a category says little: a refusal written "中文 / English" for people says more
        half = _bilingual_half(getattr(error, "detail", None), lang)
        if half is not None:
            return half
    return code_message(code)[_index(lang)]


# Codes that name only a category of refusal; their message gives way to a refusal's own bilingual words.
GENERIC_CODES = frozenset({"ledger_error", "api_error", "invalid_input", "not_found", "not_permitted", "wrong_state",
                           "already_exists"})
_ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
_ID_LIKE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}")


def _bilingual_half(detail: object, lang: str) -> str | None:
    """The page language's half of a detail written "中文 / English", if its Chinese half is plain
    Chinese (no English words, no ids): otherwise None, and the code's message is used."""
    if not isinstance(detail, str):
        return None
    chinese, separator, english = detail.partition(" / ")
    chinese, english = chinese.strip(), english.strip()
    if not separator or not english or not CJK.search(chinese):
        return None
    if _ENGLISH_WORD.search(chinese) or _ID_LIKE.search(detail):
        return None
    return english if lang == "en" else chinese


def messages(error: BaseException) -> dict[str, str]:
    """Both languages, as the API's error body carries them."""
    return {lang: message(error, lang) for lang in LANGUAGES}


def code_messages(code: str) -> dict[str, str]:
    zh, en = code_message(code)
    return {"zh": zh, "en": en}


def cli_text(error: BaseException) -> str:
    """How the command line reports a refusal: the Chinese message, then the stable code and the
    ledger's detail for operators and scripts (`余额不足，本次未扣减。 (balance_would_go_negative: …)`)."""
    code = getattr(error, "code", "invalid_input")
    detail = getattr(error, "detail", "") or str(error)
    return f"{message(error, 'zh')} ({code}: {detail})"  # a space: the terminal may wrap there, not mid-code
